"""The web UI in a real browser: one `tollgate ui` process in front of the session's real
gateway (and real engine), driven by Playwright through Debian's Chromium.

Chromium is installed by `make test` (the `browser` step); when it is missing these tests fail
with that hint, they never skip. Each test gets a fresh browser context (a fresh browser tab
session), and leaves a screenshot under test-artifacts/ui-browser/.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready
from tests.conftest import GatewayStack, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("TOLLGATE_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without these, Chromium keeps trying to reach Google's services, which this closed network
# answers slowly or never; a GPU process is useless headless.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui-browser"
VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="session")
def ui_url(gateway_stack: GatewayStack) -> Iterator[str]:
    """`tollgate ui` as users run it, in front of the session's real gateway."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")},
        "TOLLGATE_LOG_FORMAT": "json",
        # Every test signs in from 127.0.0.1; the throttle itself is tested in tests/ui.
        "TOLLGATE_UI__SIGN_IN_RATE_LIMIT": "1000/minute",
    }
    command = [sys.executable, "-m", "services.cli", "ui", "--port", str(port)]
    ui = ManagedProcess(
        "ui", [*command, "--gateway", gateway_stack.gateway_url], env, echo=None
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/", ui, timeout_s=120)
    except (ProcessExited, ReadyTimeout) as exc:
        ui.stop()
        pytest.fail(f"tollgate ui did not start: {exc}\n{ui.last_lines()}", pytrace=False)
    try:
        yield url
    finally:
        ui.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (never Playwright's own download). `launch` gives it
    a fresh, throw-away user-data dir of its own.

    Module-scoped on purpose: Playwright's sync API marks an event loop as running in this
    thread until it stops, and the asyncio tests collected after the browser tests need it gone.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run `make test` (it installs it) or "
            "`apt-get install -y chromium`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, ui_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser session on the UI's page; its last sight is kept as a screenshot."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.goto(ui_url)
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        tab.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        context.close()
