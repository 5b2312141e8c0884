"""The journal layer, between the engine and the stores: :class:`StoreJournal` writes an
engine's jobs behind it into an embedded store (``_persistence``); :class:`ClusterJournal` adds
claims, leases, recovery and change notifications for a store shared by several processes
(``_cluster``). :func:`make_journal` picks one for a store or URL; importing this package
installs it as the engine's journal factory (the engine, a layer below, cannot import it).
"""

from __future__ import annotations

import inspect
from typing import Any

from .._cluster import ClusterJournal
from .._core._hooks import install_journal_factory
from .._persistence import StoreJournal
from ..abc import Journal, Store
from ..errors import InvalidJobError
from ..stores._url import store_from_url
from ..stores.postgres import PostgresStore

__all__ = ["ClusterJournal", "StoreJournal", "make_journal"]


def make_journal(store: object, **options: Any) -> Journal:
    """The journal for ``store``: a :class:`~asyncron.abc.Store`, a store URL (``memory://``,
    ``json:///path/state.json``, ``sqlite:///path/jobs.db``, ``postgresql://...``) or a ready
    journal (returned as is).

    ``options`` go to the journal (:class:`StoreJournal` or :class:`ClusterJournal`).

    Raises:
        InvalidJobError: an unknown URL scheme, or a value that is not a store.
    """
    if isinstance(store, Journal):
        return store
    if isinstance(store, str) and store.split("://", 1)[0].lower() in ("postgresql", "postgres"):
        return ClusterJournal(store, **_checked(ClusterJournal, options))
    if isinstance(store, str):
        store = store_from_url(store)
    if not isinstance(store, Store):
        raise InvalidJobError(
            f"store: expected a Store, a store URL or a StoreJournal, got "
            f"{type(store).__name__} {store!r}"
        )
    if isinstance(store, PostgresStore):
        return ClusterJournal(store, **_checked(ClusterJournal, options))
    return StoreJournal(store, **_checked(StoreJournal, options))


def _checked(journal: type[Journal], options: dict[str, Any]) -> dict[str, Any]:
    """``options`` if ``journal`` takes each of them by name.

    Raises:
        InvalidJobError: an option it does not take (the message lists those it takes).
    """
    allowed: list[str] = []
    for cls in journal.__mro__:  # a journal passing **options on takes its base's too
        if "__init__" not in vars(cls):
            continue
        params = inspect.signature(vars(cls)["__init__"]).parameters.values()
        allowed += [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            break
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidJobError(
            f"store_options: unknown option {', '.join(map(repr, unknown))} for "
            f"{journal.__name__}; allowed: {', '.join(allowed)}"
        )
    return options


install_journal_factory(make_journal)
