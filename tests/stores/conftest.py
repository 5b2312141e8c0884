from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from asyncron.abc import Store
from asyncron.stores import JsonFileStore, MemoryStore, SQLiteStore

StoreFactory = Callable[[], Store]

KINDS = ["memory", "json", "sqlite"]


def make_factory(kind: str, tmp_path: Path) -> StoreFactory:
    """A factory returning a fresh store object on the *same* backing file each call."""
    if kind == "memory":
        shared = MemoryStore()
        return lambda: shared
    if kind == "json":
        return lambda: JsonFileStore(tmp_path / "jobs.json")
    return lambda: SQLiteStore(tmp_path / "jobs.db")


@pytest.fixture(params=KINDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return make_factory(request.param, tmp_path)


@pytest.fixture(params=["json", "sqlite"])
def durable_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return make_factory(request.param, tmp_path)
