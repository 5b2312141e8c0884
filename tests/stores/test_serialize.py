"""Safe serialization: tagged JSON values, triggers, and what is refused (RELIABILITY D4-D6)."""

from __future__ import annotations

import ast
import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncron import CronTrigger, IntervalTrigger, OnceTrigger
from asyncron._serialize import (
    ArgumentDecodeError,
    decode_arguments,
    decode_value,
    dumps,
    encode_arguments,
    encode_value,
    trigger_from_doc,
    trigger_to_doc,
)
from asyncron.abc import StoredJob, Trigger
from asyncron.errors import InvalidJobError

SRC = Path(__file__).resolve().parents[2] / "src" / "asyncron"

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.binary()
    | st.datetimes(timezones=st.none() | st.just(UTC) | st.just(ZoneInfo("Europe/Berlin")))
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.uuids()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=5) | st.just("$type"), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_every_supported_value_round_trips_through_json_text(value: Any) -> None:
    import json

    assert decode_value(json.loads(dumps(encode_value(value)))) == value


def test_round_trip_keeps_types_zone_and_fold() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    dt = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=berlin)
    value = (dt, b"\x00\xff", Decimal("1.10"), uuid.UUID(int=5), 2**70, {"$type": "x"})
    back = decode_value(encode_value(value))
    assert back == value and type(back) is tuple
    assert back[0].tzinfo == berlin and back[0].fold == 1 and str(back[2]) == "1.10"


@pytest.mark.parametrize(
    ("args", "kwargs", "path", "what"),
    [
        ((lambda: 1,), {}, r"args\[0\]", "function"),
        ((), {"conn": threading.Lock()}, r"kwargs\['conn'\]", "lock"),
        ((), {"s": {1, 2}}, r"kwargs\['s'\]", "set"),
        (([1, float("nan")],), {}, r"args\[0\]\[1\]", "NaN"),
        (({1: "a"},), {}, r"args\[0\]", "str keys"),
        ((time(1, tzinfo=UTC),), {}, r"args\[0\]", "aware time"),
    ],
)
def test_unstorable_argument_is_refused_naming_its_path(
    args: tuple[Any, ...], kwargs: dict[str, Any], path: str, what: str
) -> None:
    with pytest.raises(InvalidJobError, match=path) as info:
        encode_arguments(args, kwargs)
    assert isinstance(info.value, ValueError)


def test_open_file_and_cycle_are_refused(tmp_path: Path) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(InvalidJobError, match=r"args\[0\]\[1\]: refers to itself"):
        encode_arguments((loop,), {})
    with (
        (tmp_path / "f").open("w") as handle,
        pytest.raises(InvalidJobError, match="TextIOWrapper"),
    ):
        encode_arguments((), {"f": handle})


def test_oversize_arguments_name_size_and_limit() -> None:
    with pytest.raises(InvalidJobError, match=r"take \d+ bytes, more than the limit of 1024"):
        encode_arguments(("x" * 2000,), {}, max_bytes=1024)


@pytest.mark.parametrize(
    "doc",
    [
        {"$type": "pickle", "v": "gASVAAAAAAAAAAB9lC4="},
        {"__class__": "os.system"},  # a plain dict: stays a dict, nothing is built
        {"$type": "datetime", "v": "not a date"},
        {"$type": "tuple", "v": [1], "extra": 1},
        {"_apscheduler_json": 1, "$type": "callable", "v": "os:system"},
    ],
)
def test_unknown_or_malformed_tags_are_rejected_or_left_as_data(doc: dict[str, Any]) -> None:
    if "__class__" in doc:
        assert decode_value(doc) == doc
        return
    with pytest.raises(ArgumentDecodeError):
        decode_value(doc)


def test_decode_arguments_rejects_a_pickle_byte_stream() -> None:
    import base64

    blob = base64.b64decode("gASVAAAAAAAAAAB9lC4=")
    with pytest.raises(ArgumentDecodeError, match="not valid JSON"):
        decode_arguments(blob)


def test_source_tree_has_no_pickle_marshal_eval_or_exec() -> None:
    banned_modules = {"pickle", "shelve", "marshal", "dill", "cloudpickle"}
    hits = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                hits += [
                    f"{path}:{node.lineno}" for n in names if n.split(".")[0] in banned_modules
                ]
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"eval", "exec"}
            ):
                hits.append(f"{path}:{node.lineno}")
    assert hits == []


@pytest.mark.parametrize(
    "trigger",
    [
        OnceTrigger(datetime(2026, 3, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))),
        IntervalTrigger(minutes=5),
        IntervalTrigger(
            timedelta(hours=1, microseconds=7),
            start=datetime(2026, 1, 1, tzinfo=ZoneInfo("America/New_York")),
            end=datetime(2027, 1, 1, tzinfo=timezone(timedelta(hours=2))),
        ),
        CronTrigger.from_expression("30 2 * * *", "Europe/Berlin"),
        CronTrigger.from_expression("H * * * *", "UTC", hash_key="job-1"),
        CronTrigger.from_expression(
            "0 9 * * 1-5", "Asia/Tokyo", start=datetime(2026, 1, 1, tzinfo=UTC)
        ),
    ],
)
def test_triggers_round_trip_to_an_equal_trigger(trigger: Any) -> None:
    import json

    doc = json.loads(dumps(trigger_to_doc(trigger)))
    back = trigger_from_doc(doc)
    assert back == trigger
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert back.get_next_run(now) == trigger.get_next_run(now)


def test_unknown_zone_in_stored_trigger_names_the_zone() -> None:
    doc = trigger_to_doc(CronTrigger.from_expression("0 0 * * *", "UTC"))
    doc["timezone"] = "Mars/Olympus"
    with pytest.raises(ArgumentDecodeError, match="Mars/Olympus"):
        trigger_from_doc(doc)


class _Custom(Trigger):
    def get_next_run(self, from_time: datetime | None = None) -> datetime | None:
        return None


def test_custom_trigger_kind_cannot_be_stored() -> None:
    with pytest.raises(InvalidJobError, match="_Custom cannot be stored"):
        trigger_to_doc(_Custom())


def test_stored_job_from_doc_names_the_bad_field() -> None:
    doc = StoredJob("a", "n", "m:f", {}, None).to_doc()
    doc["run_count"] = "three"
    with pytest.raises(ValueError, match="'run_count'"):
        StoredJob.from_doc(doc)
    del doc["func_ref"]
    with pytest.raises(ValueError, match="missing field 'func_ref'"):
        StoredJob.from_doc(doc)


def test_date_round_trip() -> None:
    assert decode_value(encode_value(date(2026, 2, 28))) == date(2026, 2, 28)
