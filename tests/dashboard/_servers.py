"""Real servers on 127.0.0.1 for the dashboard tests (streams need a real connection:
httpx's ASGITransport buffers the whole response)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn


def _config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=2,
    )


def _port(server: uvicorn.Server) -> int:
    sock: socket.socket = server.servers[0].sockets[0]
    return int(sock.getsockname()[1])


@asynccontextmanager
async def uvicorn_in_loop(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on the running loop (so the test shares the scheduler's loop)."""
    server = uvicorn.Server(_config(app))
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{_port(server)}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def uvicorn_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on its own loop in a background thread."""
    server = uvicorn.Server(_config(app))
    thread = threading.Thread(target=server.run, name="dashboard-test-server", daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{_port(server)}"
    finally:
        server.should_exit = True
        thread.join(10)
