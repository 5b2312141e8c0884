"""Time-zone helpers shared by triggers and the engine (pure, loop-free)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidTriggerError

__all__ = ["clip", "ensure_aware", "local_zone", "resolve_zone"]

#: Longer zone names are refused outright (no IANA name comes near it).
_MAX_ZONE_NAME = 255
_CLIP = 60


def clip(value: object, limit: int = _CLIP) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for error messages about values a user
    may have passed by mistake at any size (a 5,000-character zone, a 10,000-digit number)."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the error being reported
        text = f"<{type(value).__name__}>"
    if len(text) <= limit:
        return text
    return f"{text[: limit - 8]}...{text[-3:]} ({len(text)} characters)"


def local_zone() -> tzinfo:
    """The system's local time zone as an IANA ``ZoneInfo`` when it can be named.

    Looks at ``TZ``, then ``/etc/timezone``, then the ``/etc/localtime`` link; falls back to the
    fixed offset Python reports, and to UTC. A named zone matters: a fixed offset knows no DST.
    Cached per value of ``TZ`` and of the fixed offset Python reports, so a change of ``TZ``
    followed by ``time.tzset()`` is seen.
    """
    return _local_zone(os.environ.get("TZ", ""), time.timezone, time.altzone)


@lru_cache(maxsize=8)
def _local_zone(tz_env: str, _offset: int, _alt_offset: int) -> tzinfo:
    candidates: list[str] = []
    env = tz_env.lstrip(":")
    if env:
        candidates.append(env)
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # see resolve_zone
            continue
    return datetime.now().astimezone().tzinfo or UTC


def resolve_zone(value: str | tzinfo | None, *, field: str = "timezone") -> tzinfo:
    """Turn an IANA name, a tzinfo or None (the local zone) into a tzinfo.

    Raises:
        InvalidTriggerError: the name is not a known IANA zone, or the value has the wrong type.
    """
    if value is None:
        return local_zone()
    if isinstance(value, tzinfo):
        return value
    if isinstance(value, str):
        if value.upper() == "UTC":
            return UTC
        # IANA names are short (the longest is 32 characters); a long one is refused before
        # zoneinfo turns it into a path, where it would raise OSError (name too long).
        if len(value) <= _MAX_ZONE_NAME:
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                # ValueError: not a normalized relative key ('../x', '/etc/x') or not a TZif
                # file ('zone.tab'); OSError: the tzdata package reading a name the file system
                # refuses. Each means "no such zone".
                pass
        raise InvalidTriggerError(
            f"{field}: unknown time zone {clip(value)}; use an IANA name such as "
            "'Europe/Berlin' or 'UTC', or a tzinfo object"
        )
    raise InvalidTriggerError(
        f"{field}: expected an IANA zone name or a tzinfo, got {type(value).__name__} {clip(value)}"
    )


def ensure_aware(value: datetime, tz: tzinfo, *, field: str) -> datetime:
    """Return ``value`` unchanged if aware, else the same wall time read in ``tz``.

    Raises:
        InvalidTriggerError: ``value`` is not a datetime.
    """
    if not isinstance(value, datetime):
        raise InvalidTriggerError(
            f"{field}: expected a datetime, got {type(value).__name__} {value!r}"
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=tz)
    return value
