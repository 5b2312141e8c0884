"""Property tests over whole input spaces: whatever number, span or token a user passes, a
trigger either works or raises an asyncron ValueError naming the argument (never a raw
OverflowError, a ValueError from int(), or an error later, when the job fires)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from asyncron import CronTrigger, IntervalTrigger
from asyncron.errors import AsyncronError, InvalidTriggerError

UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds")
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, 1, -1, 1e-9, 1e300, 10**12, 2**63, 86399.999999]),
)
# the far ends of the datetime range, where arithmetic overflows
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.sampled_from(
    [datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime(1, 1, 1, 0, 1, tzinfo=UTC)]
)


def _works_or_names_the_argument(build: object, names: tuple[str, ...]) -> IntervalTrigger | None:
    try:
        return build()  # type: ignore[operator,no-any-return]
    except InvalidTriggerError as exc:
        assert isinstance(exc, ValueError)
        assert str(exc).split(":", 1)[0] in names, str(exc)
        assert len(str(exc)) < 400
        return None


@settings(max_examples=300, deadline=None)
@given(unit=st.sampled_from(UNITS), value=numbers, now=instants)
def test_any_number_for_any_unit_works_or_is_an_invalid_trigger_error(
    unit: str, value: float, now: datetime
) -> None:
    trig = _works_or_names_the_argument(
        lambda: IntervalTrigger(**{unit: value}), (unit, "interval")
    )
    if trig is None:
        return
    assert timedelta(0) < trig.interval
    # a trigger that was accepted never fails later: near year 9999 it is simply exhausted
    for ask in (trig.get_next_run, trig.get_first_run):
        nxt = ask(now)
        assert nxt is None or nxt > now or (ask is trig.get_first_run and nxt >= now)


@settings(max_examples=200, deadline=None)
@given(
    interval=st.one_of(
        st.timedeltas(),
        numbers,
        st.sampled_from([timedelta.max, timedelta.min, timedelta.resolution]),
    ),
    days=st.sampled_from([0, 1, -1, 3_652_058, -3_652_058]),
    start=st.none() | instants,
    now=instants,
)
def test_any_interval_span_works_or_is_refused_at_construction(
    interval: timedelta | float, days: int, start: datetime | None, now: datetime
) -> None:
    names = ("interval", "days")
    trig = _works_or_names_the_argument(
        lambda: IntervalTrigger(interval, days=days, start=start), names
    )
    if trig is None:
        return
    nxt = trig.get_next_run(now)
    assert nxt is None or nxt > now
    first = trig.get_first_run(now)
    assert first is None or first >= min(now, start or now)


digit_runs = st.integers(min_value=0, max_value=10**6).map(str) | st.integers(
    min_value=1, max_value=12_000
).map(lambda n: "9" * n)


TEMPLATES = [
    "{} * * * *", "*/{} * * * *", "1-{} * * * *", "0 0 L-{} * *", "0 0 {}W * *",
    "0 0 * * 1#{}", "0 0 * * {}L", "0 0 1 1 * * {}", "H({}-{}) * * * *", "0 {} * * *",
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(template=st.sampled_from(TEMPLATES), number=digit_runs)
def test_any_number_in_any_cron_position_parses_or_is_a_cron_parse_error(
    template: str, number: str
) -> None:
    expression = template.format(number, number)
    try:
        trig = CronTrigger.from_expression(expression, "UTC")
    except AsyncronError as exc:
        assert isinstance(exc, ValueError)
        assert "field" in str(exc) and len(str(exc)) < 400, str(exc)
        return
    nxt = trig.get_next_run(datetime(2026, 1, 1, tzinfo=UTC))
    assert nxt is None or nxt.year >= 2026


@settings(max_examples=150, deadline=None)
@given(zone=st.text(max_size=300) | st.text(min_size=1, max_size=8).map(lambda t: t * 700))
def test_any_text_as_a_zone_is_a_zone_or_an_invalid_trigger_error(zone: str) -> None:
    try:
        trig = CronTrigger.from_expression("0 9 * * *", zone)
    except InvalidTriggerError as exc:
        assert str(exc).startswith(("timezone: unknown time zone", "timezone: expected")), str(exc)
        assert len(str(exc)) < 400
        return
    assert trig.get_next_run(datetime(2026, 1, 1, tzinfo=UTC)) is not None
