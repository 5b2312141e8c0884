"""Job functions for the trigger persistence tests (importable by module path)."""

from __future__ import annotations

from datetime import datetime

FIRES: list[tuple[str, datetime | None]] = []


def note(tag: str) -> str:
    FIRES.append((tag, None))
    return tag
