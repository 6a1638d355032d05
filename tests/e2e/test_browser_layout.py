"""The pages on a phone: the menu folds behind a button, tables scroll sideways, the rating buttons fit."""

from __future__ import annotations

import pytest

from trailers.models import Rating

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("[name=username]", username)
    page.fill("[name=password]", password)
    page.click("button[type=submit]")


def test_phone_layout(phone, screenshot, user, other_user):
    from playwright.sync_api import expect

    from tests.web.conftest import create_run, create_trailer

    trailers = [create_trailer(title=f"A trailer with a long title, number {i}", reference_score=5.0)
                for i in range(3)]
    Rating.objects.create(user=other_user, trailer=trailers[0], score=7)
    run = create_run()
    log_in(phone, "alice", "alice-pass-123")

    expect(phone.locator("h1")).to_have_text("Dataset")
    nav = phone.locator("nav.nav")
    expect(nav).to_be_hidden()
    phone.click("button.nav-toggle")
    expect(nav).to_be_visible()
    screenshot(phone, "10-phone-menu")
    phone.click("button.nav-toggle")
    # Nothing but the table's own box is wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "11-phone-dataset")

    phone.goto(f"/trailers/{trailers[0].pk}/")
    expect(phone.locator("#my-rating button.score")).to_have_count(10)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.click("#my-rating button.score >> text='9'")
    expect(phone.locator("#messages")).to_contain_text("9/10")
    screenshot(phone, "12-phone-trailer")

    phone.goto(f"/runs/{run.pk}/")
    expect(phone.locator("svg.line-chart")).to_have_count(2)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "13-phone-run")
