"""A web dashboard and admin API for an :class:`~asyncron.AsyncScheduler`.

* :func:`create_dashboard`: an ASGI app to mount in FastAPI or Starlette
  (``app.mount("/scheduler", create_dashboard(scheduler, auth=is_admin))``); needs Starlette
  (installed with FastAPI, or on its own).
* :func:`asyncron.dashboard.aiohttp.setup_dashboard`: the same in an aiohttp app; needs only
  aiohttp.

Nothing is served until it is mounted. The page is plain HTML, CSS and JavaScript shipped in
the package (no build step, nothing fetched from elsewhere). See docs/dashboard.md for the
security model: an auth hook, actions refused without it, CSRF-safe actions, arguments hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._core import CSRF_COOKIE, CSRF_HEADER, AuthHook

if TYPE_CHECKING:
    from ._starlette import create_dashboard

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "AuthHook", "create_dashboard"]


def __getattr__(name: str) -> Any:
    # Starlette is imported only when the ASGI app is asked for, so that aiohttp users
    # need not install it.
    if name == "create_dashboard":
        try:
            from ._starlette import create_dashboard
        except ImportError as exc:  # pragma: no cover - exercised only without starlette
            if exc.name != "starlette":
                raise
            raise ImportError(
                "asyncron.dashboard.create_dashboard needs starlette: pip install starlette "
                "(or fastapi, which includes it)"
            ) from exc
        return create_dashboard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
