"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server and a real worker.

Without /usr/bin/chromium the tests skip with the reason, unless
REELSCORE_REQUIRE_BROWSER=1 (CI sets it), where they fail instead.
Screenshots of every page go to test-output/screenshots/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, watch_policy

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright(worker_env):
    """Playwright's sync API runs an event loop in this thread, while the tests' ORM calls stay synchronous:
    tell Django so, for these modules only (after worker_env is taken, so that no worker inherits it)."""
    name = "DJANGO_ALLOW_ASYNC_UNSAFE"
    before = os.environ.get(name)
    os.environ[name] = "true"
    yield
    if before is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = before


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the whole module."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860},
                                  accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    refused = watch_policy(page)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused: {refused}"


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 800},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    refused = watch_policy(page)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused: {refused}"


@pytest.fixture(scope="session")
def screenshot():
    """screenshot(page, name): a PNG of what the page shows, in test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        page.screenshot(path=str(path), full_page=full_page, type="png")
        return path

    return take
