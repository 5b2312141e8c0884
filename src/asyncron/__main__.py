"""``python -m asyncron ...`` runs the asyncron command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
