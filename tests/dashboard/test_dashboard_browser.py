"""The dashboard page in real headless Chromium (Debian's ``chromium``), driven by Playwright,
against a real uvicorn server: load it, see a job fire, pause it, see it paused.

Skipped when Chromium or Playwright is missing, unless ``ASYNCRON_REQUIRE_BROWSER=1`` (CI sets
it and installs both). Saves ``docs/img/dashboard.png`` for docs/dashboard.md.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from asyncron import AsyncScheduler
from asyncron.dashboard import create_dashboard
from asyncron.integrations.starlette import asyncron_lifespan

from ._servers import uvicorn_in_thread

CHROMIUM = "/usr/bin/chromium"
# The docs' screenshot is refreshed only on request (ASYNCRON_WRITE_SCREENSHOT=1); otherwise the
# test writes to a temporary file, so a test run leaves the work tree clean.
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
SCREENSHOT = (
    DOCS_SCREENSHOT
    if os.environ.get("ASYNCRON_WRITE_SCREENSHOT") == "1"
    else Path(tempfile.gettempdir()) / f"asyncron-dashboard-{os.getpid()}.png"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright; no `playwright install`)"
    return None


@pytest.fixture
def browser_ready() -> None:
    missing = _browser_missing()
    if missing is None:
        return
    if os.environ.get("ASYNCRON_REQUIRE_BROWSER") == "1":
        pytest.fail(f"ASYNCRON_REQUIRE_BROWSER=1 but {missing}")
    pytest.skip(missing)


async def sync_orders() -> None:
    await asyncio.sleep(0.03)


async def import_prices(source: str) -> None:
    await asyncio.sleep(0.01)
    raise ConnectionError(f"{source}: connection refused after 3 attempts")


async def send_digest() -> None:
    pass


def _demo_app() -> FastAPI:
    scheduler = AsyncScheduler()
    scheduler.schedule_nowait(sync_orders, "sync-orders", 0.4)
    scheduler.schedule_nowait(import_prices, "import-prices", 0.9, args=("prices.example",))
    scheduler.cron("*/15 * * * *", name="refresh-search-index")(send_digest)
    scheduler.cron("0 7 * * 1-5", name="morning-digest", timezone="Europe/Berlin")(send_digest)
    scheduler.every(minutes=20, name="expire-sessions")(send_digest)

    def is_admin(request: Request) -> bool:  # the app's own authentication goes here
        return request.headers.get("authorization") == "Bearer admin-token"

    app = FastAPI(lifespan=asyncron_lifespan(scheduler))
    app.mount("/scheduler", create_dashboard(scheduler, auth=is_admin))
    return app


@pytest.fixture
def server(browser_ready: None) -> Iterator[str]:
    with uvicorn_in_thread(_demo_app()) as url:
        yield url


def _runs(page: Any, name: str) -> int:
    return int(
        page.locator(f"#jobs tr:has(button.name-link:text-is('{name}')) td.runs").inner_text()
    )


def test_page_shows_jobs_firing_and_pausing_a_job_from_the_browser(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                extra_http_headers={"Authorization": "Bearer admin-token"},
            )
            page = context.new_page()
            page.set_default_timeout(8000)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console: {msg.text}") if msg.type == "error" else None
                ),
            )
            page.goto(f"{server}/scheduler/")
            row = page.locator("#jobs tr:has(button.name-link:text-is('sync-orders'))")
            expect(row).to_have_count(1)
            expect(page.locator("#live")).to_have_text("live")

            # see it fire: the run count goes up without reloading the page
            before = _runs(page, "sync-orders")
            page.wait_for_function(
                """([name, before]) => [...document.querySelectorAll('#jobs tbody tr')]
                    .some(tr => tr.querySelector('button.name-link')?.textContent === name
                         && Number(tr.querySelector('td.runs').textContent) > before)""",
                arg=["sync-orders", before],
            )

            # pause it from its row: its status turns paused and it stops firing
            row.locator("button[data-action=pause]").click()
            expect(row.locator(".status")).to_have_text("paused")
            expect(row.locator("button[data-action=resume]")).to_be_visible()
            paused_at = _runs(page, "sync-orders")
            page.wait_for_timeout(1000)
            assert _runs(page, "sync-orders") <= paused_at + 1  # at most the run in progress

            # a failing job: its error and traceback are shown, in the list and in its detail
            expect(page.locator("#failures .failure .err")).to_contain_text(
                "ConnectionError: prices.example: connection refused"
            )
            page.locator("#jobs button.name-link:text-is('import-prices')").click()
            expect(page.locator("#detail")).to_be_visible()
            expect(page.locator("#detail-traceback pre.tb")).to_contain_text("Traceback")
            expect(page.locator("#detail-fires li")).to_have_count(10)
            expect(page.locator("#chart-duration svg rect").first).to_be_attached()
            expect(page.locator("#timeline svg circle").first).to_be_attached()
            # arguments are not shown by default
            expect(page.locator("#detail-fields")).to_contain_text("hidden (show_arguments=False)")
            page.evaluate("document.getElementById('toast').hidden = true")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            context.close()
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
    assert problems == []


def test_page_without_authentication_is_refused(server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            response = page.goto(f"{server}/scheduler/")
            assert response is not None and response.status == 403
            assert "authentication required" in page.content()
        finally:
            browser.close()
