"""The narrow API through which journals, facades, the CLI, integrations and the dashboard talk
to an engine, instead of reading or setting its private attributes.

``hooks_of(scheduler)`` returns the :class:`EngineHooks` of a scheduler; each method states what
it promises. Everything else about the engine is private to ``asyncron._core``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._scheduler import AsyncScheduler

__all__ = ["EngineHooks", "hooks_of"]


class EngineHooks:
    """What a journal or a facade may ask of, or tell, one engine."""

    __slots__ = ("_engine",)

    def __init__(self, engine: AsyncScheduler) -> None:
        self._engine = engine

    @property
    def journal(self) -> Any:
        """The engine's journal (its store's bridge), or None without a store."""
        return self._engine._journal

    @property
    def claims_fires(self) -> bool:
        """True when each fire is claimed in a shared store before it runs (known from the
        journal before the engine starts)."""
        return bool(getattr(self._engine._journal, "claims", False))

    @property
    def has_leader_lock(self) -> bool:
        """True when the engine was given a ``leader_lock`` (one process of an app fires)."""
        return self._engine._leader_path is not None


def hooks_of(engine: AsyncScheduler) -> EngineHooks:
    """The hooks of ``engine``."""
    return EngineHooks(engine)
