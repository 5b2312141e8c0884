"""Job stores: where durable jobs live.

``MemoryStore`` (nothing survives the process), ``JsonFileStore`` and ``SQLiteStore`` (embedded,
one process, crash-safe). Select one by object or by URL (``memory://``,
``json:///path/state.json``, ``sqlite:///path/jobs.db``). All implement
:class:`asyncron.abc.Store` and pass the same contract tests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._crypto import Keyring
from .._misfire import MisfirePlan, MisfirePolicy, plan_misfires
from .._model import UnresolvedJob
from .._refs import FunctionRegistry, UnvouchedFunctionError, storable, vouch
from ..abc import Store, StoredJob
from ..errors import (
    ArgumentDecodeError,
    DecryptionError,
    NotAStoreError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    TamperedRecordError,
    UnresolvedJobError,
)
from ._url import store_from_url
from .jsonfile import JsonFileStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .._persistence import StoreJournal

__all__ = [
    "ArgumentDecodeError",
    "DecryptionError",
    "FunctionRegistry",
    "JsonFileStore",
    "Keyring",
    "MemoryStore",
    "MisfirePlan",
    "MisfirePolicy",
    "NotAStoreError",
    "SQLiteStore",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreJournal",
    "StoreLockedError",
    "StoreVersionError",
    "StoredJob",
    "TamperedRecordError",
    "UnresolvedJob",
    "UnresolvedJobError",
    "UnvouchedFunctionError",
    "plan_misfires",
    "storable",
    "store_from_url",
    "vouch",
]


def __getattr__(name: str) -> Any:
    # ``StoreJournal`` is offered here for users (``from asyncron.stores import StoreJournal``)
    # but belongs to the journal layer, above the stores: a store must never depend on the
    # journal, so it is looked up when first asked for (PEP 562), once both are loaded. This
    # is the one such re-export; tests/test_layers.py names it.
    if name == "StoreJournal":
        return importlib.import_module("asyncron._persistence").StoreJournal
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
