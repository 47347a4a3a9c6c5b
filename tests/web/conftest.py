"""A real server with the tiny model on loopback, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.web.helpers import DESKTOP, PHONE

CHROMIUM = Path("/usr/bin/chromium")
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
ARTIFACTS = Path(
    os.environ.get("PIXEMBED_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread while
# it is started, and tests elsewhere that call anyio.run / asyncio.run there would fail after it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for one test module; the tests skip, saying why, where it is missing."""
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def screenshotted_page(browser: Browser, viewport: ViewportSize, name: str) -> Iterator[Page]:
    """A fresh page of ``viewport`` size; its screenshot is kept as test-artifacts/web/NAME.png at the end."""
    context = browser.new_context(viewport=viewport)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        (ARTIFACTS / "web").mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / "web" / f"{name}.png"), full_page=True)
        context.close()


@pytest.fixture(params=[PHONE, DESKTOP], ids=["390px", "1280px"])
def sized_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page at a phone's and at a desktop's size; its screenshot is kept under test-artifacts/web/."""
    yield from screenshotted_page(browser, request.param, request.node.name)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; a screenshot of it is kept under test-artifacts/web/ when the test ends."""
    yield from screenshotted_page(browser, {"width": 1400, "height": 1800}, request.node.name)
