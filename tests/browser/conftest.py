"""Browser fixtures: the app served on loopback and Debian's chromium driven by Playwright."""

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.tools import require_tool

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server(app):
    """The test app on a free loopback port, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def _browser():
    """Chromium for one test module.

    Module scope, not session: Playwright's sync API keeps an asyncio loop running in this
    thread while it is open, and code after the browser modules calls asyncio.run() (pyHanko).
    """
    if not Path(CHROMIUM).exists():
        require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(_browser):
    """A fresh browser context and page at 1280x800; closed after the test."""
    context = _browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
