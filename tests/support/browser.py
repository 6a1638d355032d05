"""Chromium for the browser tests (tests/e2e, and the three-host test's playback): where it is, whether it may
be missing, what its Content-Security-Policy refused, and logging in through the page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.processes import wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_browser() -> None:
    """Skip (or, with REELSCORE_REQUIRE_BROWSER=1, fail) where Chromium or Playwright is missing."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if reason:
        if os.environ.get("REELSCORE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here (REELSCORE_REQUIRE_BROWSER=1), but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")


def watch_policy(page) -> list[str]:
    """What the page's Content-Security-Policy refused (Chromium says so on the console): nothing, or
    some behaviour of the site is broken in a real browser."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    return refused


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("[name=username]", username)
    page.fill("[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)  # logged in before the next page is asked for


def wait_in_page(page, expression: str, *, timeout: float = 30) -> None:
    """Wait until ``expression`` is true in ``page``, read by page.evaluate from here. Playwright's own
    wait_for_function evaluates a predicate that is not true at once with eval in the page, which the
    Content-Security-Policy (script-src 'self', no 'unsafe-eval') refuses. A page being loaded again meanwhile is
    asked again once it is there."""
    from playwright.sync_api import Error

    def true_now() -> bool:
        try:
            return bool(page.evaluate(expression))
        except Error as exc:  # the page is being loaded again: ask the new one next time
            if "Execution context was destroyed" in str(exc):
                return False
            raise

    wait_for(true_now, timeout=timeout, interval=0.1, message=f"the page: {expression}")
