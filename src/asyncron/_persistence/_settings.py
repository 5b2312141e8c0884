"""What the journal's parts read from the journal: its public settings.

The parts of :class:`~asyncron._persistence.StoreJournal` (the record codec, the writer, the
restorer) read these settings from the journal each time they use them, never a copy: a
setting changed after construction (``PersistentScheduler.test_mode = True``) counts from the
next write or load on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

from .._misfire import MisfirePolicy
from .._refs import FunctionRegistry
from ..abc import Store

if TYPE_CHECKING:
    from .._crypto import Keyring

__all__ = ["JournalSettings", "OnCrash"]

#: What a run cut short by a crash becomes: ``"abandon"`` records it as an interrupted (failed)
#: run, ``"rerun"`` runs it once more at the next start.
OnCrash = Literal["abandon", "rerun"]


class JournalSettings(Protocol):
    """The journal's settings, as its parts read them (see :class:`StoreJournal`'s arguments)."""

    store: Store
    registry: FunctionRegistry
    keyring: Keyring | None
    test_mode: bool
    accept_unsealed: bool
    misfire: MisfirePolicy
    on_crash: OnCrash
    flush_delay: float
    max_write_lag: float
