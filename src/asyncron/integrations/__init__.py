"""Web-framework integrations: start the scheduler with the app, stop it gracefully with it.

* :mod:`asyncron.integrations.starlette`: Starlette and FastAPI (a lifespan).
* :mod:`asyncron.integrations.aiohttp`: aiohttp (a ``cleanup_ctx`` entry).

Each lives in its own module so that importing one never imports the other framework.
"""

from __future__ import annotations

__all__: list[str] = []
