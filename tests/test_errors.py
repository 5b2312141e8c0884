"""asyncron.errors: one tree, each leaf also a builtin, ids carried, picklable."""

from __future__ import annotations

import pytest

from asyncron import errors as E


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (E.InvalidTriggerError, ValueError),
        (E.CronParseError, ValueError),
        (E.InvalidJobError, ValueError),
        (E.JobLookupError, LookupError),
        (E.JobStateError, RuntimeError),
        (E.SchedulerStateError, RuntimeError),
        (E.DeadlockError, RuntimeError),
        (E.DependencyCycleError, ValueError),
        (E.RunTimeoutError, TimeoutError),
    ],
)
def test_error_leaf_subclasses_root_and_builtin(cls: type[Exception], builtin: type) -> None:
    assert issubclass(cls, E.AsyncronError)
    assert issubclass(cls, builtin)


def test_errors_all_is_complete() -> None:
    for name in E.__all__:
        assert issubclass(getattr(E, name), E.AsyncronError)


def test_job_lookup_error_carries_the_id() -> None:
    err = E.JobLookupError("abc")
    assert err.job_id == "abc"
    assert "abc" in str(err)


def test_errors_are_picklable() -> None:
    import pickle

    for err in (
        E.JobLookupError("abc"),
        E.DependencyCycleError(["a", "b", "a"]),
        E.CronParseError(
            "minute field: bad", expression="x", field="minute", token="x", position=0
        ),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
