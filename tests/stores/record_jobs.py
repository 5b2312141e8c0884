"""The job module of ``record_app.py``: ``good`` is marked storable, ``plain`` is not (it is only
vouched for when scheduled by object), ``wipe`` is never scheduled nor vouched: a tampered record
naming it must never run it."""

from __future__ import annotations

from pathlib import Path

import asyncron


def _mark(out: str, text: str) -> None:
    with Path(out).open("a") as f:
        f.write(text + "\n")


@asyncron.storable
def good(out: str) -> None:
    _mark(out, "good")


def plain(out: str) -> None:
    _mark(out, "plain")


def wipe(out: str) -> None:
    _mark(out, "WIPED")
