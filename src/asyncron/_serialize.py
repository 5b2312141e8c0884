"""Safe serialization for stored jobs: arguments as tagged JSON, triggers as plain documents.

Security model (RELIABILITY R7): stored data is *data*. Decoding produces only ``None``, ``bool``,
``int``, ``float``, ``str``, ``list``, ``dict`` and a closed set of tagged standard values
(``tuple``, ``bytes``, ``datetime``, ``date``, ``time``, ``timedelta``, ``Decimal``, ``UUID``). No
class is looked up by name, no ``__reduce__``/``__setstate__`` ever runs, nothing is imported. An
unknown tag is an error, never a guess. This is the opposite of pickle, whose loader is a small
virtual machine that calls arbitrary callables (APScheduler's default, and CVE-2026-31072 in its
"JSON" serializer that rebuilt classes from magic keys).

Encoding happens at ``schedule()`` time so that a value that cannot be stored fails there, with
the argument path in the message (``kwargs['conn']``), and not at fire time or at restart.

The persistence error classes live in :mod:`asyncron.errors`; they are re-exported here for code
that imported them from this module.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from ._tz import resolve_zone
from .abc import Trigger
from .errors import (
    ArgumentDecodeError,
    DecryptionError,
    InvalidJobError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    UnresolvedJobError,
)
from .triggers.cron import CronTrigger
from .triggers.interval import IntervalTrigger
from .triggers.once import OnceTrigger

__all__ = [
    "DEFAULT_MAX_ARG_BYTES",
    "ArgumentDecodeError",
    "DecryptionError",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "UnresolvedJobError",
    "decode_value",
    "dt_from_doc",
    "dt_to_doc",
    "dumps",
    "encode_arguments",
    "encode_value",
    "trigger_from_doc",
    "trigger_to_doc",
]

#: Default limit on the encoded size of one job's arguments (RELIABILITY D7).
DEFAULT_MAX_ARG_BYTES = 64 * 1024
_MAX_DEPTH = 64
_TAG = "$type"
_INT64 = 2**63


# -- values -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, path: str) -> bytes:
    if not isinstance(text, str):
        raise ArgumentDecodeError(f"{path}: expected base64 text, got {type(text).__name__}")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ArgumentDecodeError(f"{path}: invalid base64 data") from None


def encode_value(value: Any, path: str = "value") -> Any:
    """Turn ``value`` into plain JSON data (tagged where JSON has no type for it).

    Raises:
        InvalidJobError: the value (or something inside it, named by its path) cannot be stored:
            an unsupported type, a non-finite float, a dict with non-str keys, a cycle, or nesting
            deeper than 64 levels. The message says which types are allowed.
    """
    return _encode(value, path, set(), 0)


_ALLOWED = (
    "None, bool, int, float, str, list, tuple, dict with str keys, bytes, datetime, date, time, "
    "timedelta, Decimal, UUID"
)


def _encode(value: Any, path: str, seen: set[int], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise InvalidJobError(
            f"{path}: nested more than {_MAX_DEPTH} levels deep; cannot be stored"
        )
    if value is None or isinstance(value, bool | str):
        return value
    cls = type(value)
    if cls is int:
        if -_INT64 <= value < _INT64:
            return value
        return {_TAG: "int", "v": str(value)}
    if cls is float:
        if not math.isfinite(value):
            raise InvalidJobError(
                f"{path}: {value!r} cannot be stored (JSON has no NaN or infinity); pass a finite "
                f"number, None, or a string"
            )
        return value
    if cls is list or cls is tuple or cls is dict:
        if id(value) in seen:
            raise InvalidJobError(f"{path}: refers to itself (a cycle); cannot be stored")
        seen.add(id(value))
        try:
            if cls is dict:
                out: dict[str, Any] = {}
                for k, v in value.items():
                    if not isinstance(k, str):
                        raise InvalidJobError(
                            f"{path}: dict key {k!r} is a {type(k).__name__}; only str keys can be "
                            f"stored (JSON objects have string keys)"
                        )
                    out[k] = _encode(v, f"{path}[{k!r}]", seen, depth + 1)
                return {_TAG: "dict", "v": out} if _TAG in out else out
            items = [_encode(v, f"{path}[{i}]", seen, depth + 1) for i, v in enumerate(value)]
            return items if cls is list else {_TAG: "tuple", "v": items}
        finally:
            seen.discard(id(value))
    if cls is bytes:
        return {_TAG: "bytes", "v": _b64(value)}
    if cls is datetime:
        return {_TAG: "datetime", "v": dt_to_doc(value)}
    if cls is date:
        return {_TAG: "date", "v": value.isoformat()}
    if cls is time:
        if value.tzinfo is not None:
            raise InvalidJobError(f"{path}: an aware time cannot be stored; use a datetime")
        return {_TAG: "time", "v": value.isoformat()}
    if cls is timedelta:
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if cls is Decimal:
        return {_TAG: "decimal", "v": str(value)}
    if cls is uuid.UUID:
        return {_TAG: "uuid", "v": str(value)}
    raise InvalidJobError(
        f"{path}: a {cls.__module__}.{cls.__qualname__} cannot be stored; stored arguments must "
        f"be JSON data ({_ALLOWED}). Pass an identifier (a path, a URL, a primary key) and "
        f"rebuild the object inside the job"
    )


def decode_value(data: Any, path: str = "value") -> Any:
    """Rebuild a value encoded by :func:`encode_value`.

    Only plain data and the closed set of tagged standard types are produced; no class is looked
    up and nothing is imported.

    Raises:
        ArgumentDecodeError: an unknown tag or a malformed value; the message names the path.
    """
    return _decode(data, path, 0)


def _decode(data: Any, path: str, depth: int) -> Any:
    if depth > _MAX_DEPTH + 1:
        raise ArgumentDecodeError(f"{path}: nested too deeply")
    if data is None or isinstance(data, bool | int | float | str):
        if isinstance(data, float) and not math.isfinite(data):
            raise ArgumentDecodeError(f"{path}: non-finite number")
        return data
    if isinstance(data, list):
        return [_decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(data)]
    if not isinstance(data, dict):
        raise ArgumentDecodeError(f"{path}: unexpected {type(data).__name__} in stored data")
    if _TAG not in data:
        return {k: _decode(v, f"{path}[{k!r}]", depth + 1) for k, v in data.items()}
    tag = data[_TAG]
    if set(data) != {_TAG, "v"}:
        raise ArgumentDecodeError(
            f"{path}: tagged value {tag!r} has unexpected keys {sorted(data)}"
        )
    raw = data["v"]
    try:
        if tag == "tuple" and isinstance(raw, list):
            return tuple(_decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(raw))
        if tag == "dict" and isinstance(raw, dict):
            return {k: _decode(v, f"{path}[{k!r}]", depth + 1) for k, v in raw.items()}
        if tag == "int" and isinstance(raw, str) and raw.lstrip("-").isdigit() and raw.isascii():
            return int(raw)
        if tag == "bytes":
            return _unb64(raw, path)
        if tag == "datetime":
            return dt_from_doc(raw, path)
        if tag == "date" and isinstance(raw, str):
            return date.fromisoformat(raw)
        if tag == "time" and isinstance(raw, str):
            return time.fromisoformat(raw)
        if (
            tag == "timedelta"
            and isinstance(raw, list)
            and len(raw) == 3
            and all(type(x) is int for x in raw)
        ):
            return timedelta(days=raw[0], seconds=raw[1], microseconds=raw[2])
        if tag == "decimal" and isinstance(raw, str):
            return Decimal(raw)
        if tag == "uuid" and isinstance(raw, str):
            return uuid.UUID(raw)
    except (ValueError, ArithmeticError, OverflowError) as exc:
        raise ArgumentDecodeError(f"{path}: invalid {tag} value: {exc}") from None
    raise ArgumentDecodeError(
        f"{path}: unknown or malformed type tag {tag!r}; stored data may only use the tags "
        f"tuple, dict, int, bytes, datetime, date, time, timedelta, decimal, uuid"
    )


def dumps(data: Any) -> str:
    """Compact, deterministic JSON text of plain data (no NaN)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], *, max_bytes: int = DEFAULT_MAX_ARG_BYTES
) -> bytes:
    """Encode a job's arguments as UTF-8 JSON bytes, checking the size limit.

    Raises:
        InvalidJobError: a value cannot be stored (named by its path), or the encoded arguments
            are larger than ``max_bytes`` (the message gives both sizes).
    """
    doc = {
        "args": [_encode(v, f"args[{i}]", set(), 1) for i, v in enumerate(args)],
        "kwargs": {k: _encode(v, f"kwargs[{k!r}]", set(), 1) for k, v in kwargs.items()},
    }
    raw = dumps(doc).encode("utf-8")
    if len(raw) > max_bytes:
        raise InvalidJobError(
            f"args/kwargs: the encoded arguments take {len(raw)} bytes, more than the limit of "
            f"{max_bytes} bytes; store large data elsewhere and pass a reference (or raise "
            f"max_arg_bytes)"
        )
    return raw


def decode_arguments(raw: bytes, path: str = "arguments") -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Inverse of :func:`encode_arguments`.

    Raises:
        ArgumentDecodeError: the bytes are not the expected JSON document.
    """
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArgumentDecodeError(f"{path}: not valid JSON ({exc})") from None
    if (
        not isinstance(doc, dict)
        or set(doc) != {"args", "kwargs"}
        or not isinstance(doc["args"], list)
        or not isinstance(doc["kwargs"], dict)
    ):
        raise ArgumentDecodeError(f"{path}: expected an object with 'args' and 'kwargs'")
    args = tuple(_decode(v, f"args[{i}]", 1) for i, v in enumerate(doc["args"]))
    kwargs = {k: _decode(v, f"kwargs[{k!r}]", 1) for k, v in doc["kwargs"].items()}
    return args, kwargs


# -- datetimes and triggers ---------------------------------------------------------------------


def _zone_key(tz: tzinfo | None) -> str | None:
    if tz is None or tz is UTC:
        return None
    key = getattr(tz, "key", None)
    return key if isinstance(key, str) else None


def dt_to_doc(value: datetime) -> Any:
    """A datetime as JSON: ISO text (with its offset, ``fold`` kept), plus the IANA zone key
    when it has one (so the zone, not just the offset, comes back)."""
    text = value.isoformat()
    key = _zone_key(value.tzinfo)
    if key is None:
        return text
    return [text, key, value.fold]


def dt_from_doc(doc: Any, path: str = "datetime") -> datetime:
    """Inverse of :func:`dt_to_doc`.

    Raises:
        ArgumentDecodeError: malformed value or unknown time zone (the message names it).
    """
    if isinstance(doc, str):
        try:
            return datetime.fromisoformat(doc)
        except ValueError:
            raise ArgumentDecodeError(f"{path}: invalid ISO datetime {doc!r}") from None
    if (
        isinstance(doc, list)
        and len(doc) == 3
        and isinstance(doc[0], str)
        and isinstance(doc[1], str)
        and doc[2] in (0, 1)
    ):
        try:
            parsed = datetime.fromisoformat(doc[0])
        except ValueError:
            raise ArgumentDecodeError(f"{path}: invalid ISO datetime {doc[0]!r}") from None
        try:
            zone = resolve_zone(doc[1], field=path)
        except ValueError as exc:
            raise ArgumentDecodeError(str(exc)) from None
        # Rebuild the same wall time in the zone (not the same instant converted): a value that
        # was created inside a DST gap or overlap comes back exactly as it was.
        return parsed.replace(tzinfo=zone, fold=doc[2])
    raise ArgumentDecodeError(f"{path}: expected an ISO datetime, got {doc!r}")


def _opt_dt(value: datetime | None) -> Any:
    return None if value is None else dt_to_doc(value)


def _opt_dt_from(doc: Any, path: str) -> datetime | None:
    return None if doc is None else dt_from_doc(doc, path)


def trigger_to_doc(trigger: Trigger) -> dict[str, Any]:
    """A trigger as a JSON document: a ``type`` tag plus its fields (zones by IANA key).

    Raises:
        InvalidJobError: the trigger is not one of the built-in kinds, or a cron zone has no
            IANA name.
    """
    if isinstance(trigger, OnceTrigger):
        return {"type": "once", "run_at": dt_to_doc(trigger.run_at)}
    if isinstance(trigger, IntervalTrigger):
        iv = trigger.interval
        doc: dict[str, Any] = {
            "type": "interval",
            "interval": [iv.days, iv.seconds, iv.microseconds],
            "start": _opt_dt(trigger.start),
            "end": _opt_dt(trigger.end),
        }
        zone_key = getattr(trigger.timezone, "key", None)  # display zone only (next_run)
        if isinstance(zone_key, str):
            doc["timezone"] = zone_key
        return doc
    if isinstance(trigger, CronTrigger):
        tz = trigger.timezone
        if tz is UTC or (isinstance(tz, timezone) and tz.utcoffset(None) == timedelta(0)):
            zone = "UTC"
        else:
            key = getattr(tz, "key", None)
            if not isinstance(key, str):
                raise InvalidJobError(
                    f"trigger: the cron time zone {tz!r} has no IANA name and cannot be stored; "
                    f"give the zone by name, e.g. timezone='Europe/Berlin'"
                )
            zone = key
        return {
            "type": "cron",
            "expression": trigger.expression,
            "timezone": zone,
            "start": _opt_dt(trigger.start),
            "end": _opt_dt(trigger.end),
            "hash_key": trigger.hash_key,
        }
    raise InvalidJobError(
        f"trigger: a {type(trigger).__qualname__} cannot be stored; a persistent store keeps "
        f"OnceTrigger, IntervalTrigger and CronTrigger jobs"
    )


def trigger_from_doc(doc: Any, path: str = "trigger") -> Trigger:
    """Rebuild a trigger from :func:`trigger_to_doc` output.

    Raises:
        ArgumentDecodeError: unknown type, malformed fields, or an unknown time zone (the message
            names it; RELIABILITY D3).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        raise ArgumentDecodeError(f"{path}: expected an object with a 'type'")
    kind = doc["type"]
    try:
        if kind == "once":
            return OnceTrigger(dt_from_doc(doc["run_at"], f"{path}.run_at"))
        if kind == "interval":
            iv = doc["interval"]
            if not (isinstance(iv, list) and len(iv) == 3 and all(type(x) is int for x in iv)):
                raise ArgumentDecodeError(
                    f"{path}.interval: expected [days, seconds, microseconds]"
                )
            zone_name = doc.get("timezone")
            return IntervalTrigger(
                timedelta(days=iv[0], seconds=iv[1], microseconds=iv[2]),
                start=_opt_dt_from(doc.get("start"), f"{path}.start"),
                end=_opt_dt_from(doc.get("end"), f"{path}.end"),
                timezone=zone_name if isinstance(zone_name, str) else None,
            )
        if kind == "cron":
            expr, zone, hash_key = doc["expression"], doc["timezone"], doc.get("hash_key")
            if not isinstance(expr, str) or not isinstance(zone, str):
                raise ArgumentDecodeError(f"{path}: expression and timezone must be strings")
            return CronTrigger(
                expr,
                zone,
                start=_opt_dt_from(doc.get("start"), f"{path}.start"),
                end=_opt_dt_from(doc.get("end"), f"{path}.end"),
                hash_key=hash_key,
            )
    except KeyError as exc:
        raise ArgumentDecodeError(f"{path}: missing field {exc.args[0]!r}") from None
    except ArgumentDecodeError:
        raise
    except (ValueError, TypeError) as exc:
        raise ArgumentDecodeError(f"{path}: {exc}") from None
    raise ArgumentDecodeError(
        f"{path}: unknown trigger type {kind!r}; stored triggers are 'once', 'interval', 'cron'"
    )
