"""Job stores: where durable jobs live.

``MemoryStore`` (nothing survives the process), ``JsonFileStore`` and ``SQLiteStore`` (embedded,
one process, crash-safe). Select one by object or by URL (``memory://``,
``json:///path/state.json``, ``sqlite:///path/jobs.db``). All implement
:class:`asyncron.abc.Store` and pass the same contract tests.
"""

from __future__ import annotations

from .._crypto import Keyring
from .._persistence import MisfirePlan, MisfirePolicy, StoreJournal, UnresolvedJob, plan_misfires
from .._refs import FunctionRegistry
from .._serialize import (
    ArgumentDecodeError,
    DecryptionError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    UnresolvedJobError,
)
from ..abc import Store, StoredJob
from ._url import store_from_url
from .jsonfile import JsonFileStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = [
    "ArgumentDecodeError",
    "DecryptionError",
    "FunctionRegistry",
    "JsonFileStore",
    "Keyring",
    "MemoryStore",
    "MisfirePlan",
    "MisfirePolicy",
    "SQLiteStore",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreJournal",
    "StoreLockedError",
    "StoreVersionError",
    "StoredJob",
    "UnresolvedJob",
    "UnresolvedJobError",
    "plan_misfires",
    "store_from_url",
]
