"""``python -m asyncron.cli``: the ``asyncron`` command."""

from __future__ import annotations

from . import main

raise SystemExit(main())
