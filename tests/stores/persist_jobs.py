"""Module-level job functions for the persistence tests (stored by ``module:qualname``)."""

from __future__ import annotations

import threading
from typing import Any

from asyncron import storable

CALLS: list[tuple[str, Any]] = []


@storable
def record(tag: str, value: Any = None) -> str:
    CALLS.append((tag, value))
    return f"done {tag}"


@storable
async def arecord(tag: str, value: Any = None) -> dict[str, Any]:
    CALLS.append((tag, value))
    return {"tag": tag, "n": len(CALLS)}


@storable
def fail(tag: str) -> None:
    CALLS.append((tag, None))
    raise ValueError(f"boom {tag}")


RELEASE = threading.Event()


def block(tag: str) -> str:
    """A sync job that holds its thread until RELEASE is set (at most 5 s)."""
    CALLS.append((tag, None))
    RELEASE.wait(5)
    return f"released {tag}"
