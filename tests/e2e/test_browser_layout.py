"""The pages on a phone: the menu folds behind a button, nothing is wider than the screen, tables keep the columns
that matter on screen, charts stay readable; and the small things a keyboard or a slip of the finger needs."""

from __future__ import annotations

import pytest

from tests.support.browser import log_in, wait_in_page
from trailers.models import Trailer, TrainingRun
from trailers.services import rate_trailer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390
# A container FFmpeg names by a long list the page has no shorter name for (MP4's "mov,mp4,m4a,3gp,3g2,mj2",
# shown raw, once pushed the trailer page past a phone's width): one long word that must wrap.
LONG_CONTAINER = "image2pipe,png_pipe,jpeg_pipe,webp_pipe,gif_pipe"  # 48 characters: the column holds 50


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_phone_layout(phone, screenshot, user, other_user):
    from playwright.sync_api import expect

    from tests.support.rows import create_run, create_trailer

    trailers = [create_trailer(title=f"A trailer with a long title, number {i}", reference_score=5.0)
                for i in range(3)]
    Trailer.objects.update(container=LONG_CONTAINER)
    create_trailer(title="Cut short", status=Trailer.Status.FAILED, subclips=0, error="the file looks cut short")
    rate_trailer(user=other_user, trailer=trailers[0], score=7)
    run = create_run()
    log_in(phone, "alice", "alice-pass-123")

    expect(phone.locator("h1")).to_have_text("Dataset")
    nav = phone.locator("nav.nav")
    expect(nav).to_be_hidden()
    toggle = phone.locator("button.nav-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(nav).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    screenshot(phone, "10-phone-menu")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    phone.keyboard.press("Escape")  # folds it too, the focus back on its button
    expect(nav).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    # Nothing but the table's own box is wider than the screen; the minor columns give way to the scores.
    assert page_width(phone) <= PHONE_WIDTH
    for heading in ("Status", "Duration", "Uploaded"):
        expect(phone.locator("table.dataset th", has_text=heading)).to_be_hidden()
    # With the Status column hidden, a trailer that is not ready says so beside its title.
    expect(phone.locator("tr", has_text="Cut short").locator(".phone-only")).to_have_text("Failed")
    expect(phone.locator("tr", has_text="number 0").locator(".phone-only")).to_have_count(0)
    for heading in ("Title", "Mean rating", "Ratings", "Yours"):
        expect(phone.locator("table.dataset th", has_text=heading)).to_be_in_viewport()
    screenshot(phone, "11-phone-dataset")

    phone.goto(f"/trailers/{trailers[0].pk}/")
    expect(phone.locator("#my-rating button.score")).to_have_count(10)
    expect(phone.locator(".facts")).to_contain_text(LONG_CONTAINER)
    assert page_width(phone) <= PHONE_WIDTH, "the trailer page is wider than the phone"
    for card in phone.locator("main .card").all():
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, "a card is cut off at the screen's edge"
    # The confirmation shows beside the buttons, not far above; focus stays on the chosen score; no jump.
    button = phone.locator("#my-rating button.score >> text='9'")
    button.scroll_into_view_if_needed()
    scrolled = phone.evaluate("scrollY")
    button.click()
    notice = phone.locator("#my-rating .notice")
    expect(notice).to_contain_text("9/10")
    expect(notice).to_be_in_viewport()
    expect(phone.locator("#my-rating button.score.chosen")).to_be_focused()
    expect(phone.locator("#messages .notice")).to_have_count(0)
    assert abs(phone.evaluate("scrollY") - scrolled) < 80, "the page jumped after rating"
    screenshot(phone, "12-phone-trailer")

    phone.goto("/rate/")
    expect(phone.locator(".rate-form button.score")).to_have_count(10)
    assert page_width(phone) <= PHONE_WIDTH, "the rate-next page is wider than the phone"

    phone.goto(f"/runs/{run.pk}/")
    expect(phone.locator(".uplot-box")).to_have_count(2)  # uPlot draws the curves at the phone's own width
    assert page_width(phone) <= PHONE_WIDTH
    box = phone.locator(".uplot-box").first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, "a chart is cut off at the screen's edge"
    # Axis numbers stay readable: uPlot draws them at 13 CSS px whatever the chart's width.
    font_px = phone.evaluate("document.querySelector('.uplot-box').uplot.axes[0].font[2]")
    assert font_px >= 10, f"axis numbers are {font_px} px tall"
    screenshot(phone, "13-phone-run")

    phone.goto("/runs/")
    expect(phone.locator("table.runs th", has_text="Device")).to_be_hidden()
    expect(phone.locator("table.runs th", has_text="Progress")).to_be_in_viewport()


def test_a_table_that_scrolls_sideways_shows_a_shadow_at_the_edge(phone, user):
    from tests.support.rows import create_run

    for _ in range(3):
        create_run(status=TrainingRun.Status.RUNNING)
    log_in(phone, "alice", "alice-pass-123")
    phone.goto("/runs/")
    wrap = phone.locator("#runs-table")
    overflows = wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    background = wrap.evaluate("el => getComputedStyle(el).backgroundImage")
    # The shadows are drawn by the wrapper's background; its "local" covers hide each one at the end it reaches.
    assert background.count("radial-gradient") == 2 and background.count("linear-gradient") == 2
    if overflows:
        wrap.evaluate("el => { el.scrollLeft = el.scrollWidth }")
        assert wrap.evaluate("el => el.scrollLeft > 0")


def test_cancelling_a_run_asks_first(page, staff_user):
    from tests.support.rows import create_run

    run = create_run(status=TrainingRun.Status.RUNNING)
    log_in(page, "staff", "staff-pass-123")
    page.goto(f"/runs/{run.pk}/")
    asked: list[str] = []

    def answer(accept: bool):
        def handle(dialog):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return handle

    page.once("dialog", answer(False))
    page.click("#cancel-run")
    assert asked and asked[-1].startswith(f"Cancel run #{run.pk}?")
    page.wait_for_timeout(300)
    run.refresh_from_db()
    assert not run.cancel_requested, "dismissing the question still cancelled the run"

    page.once("dialog", answer(True))
    page.click("#cancel-run")
    from playwright.sync_api import expect

    expect(page.locator("#messages")).to_contain_text(f"Cancel requested for Run #{run.pk}")
    run.refresh_from_db()
    assert run.cancel_requested and len(asked) == 2


def test_the_drop_zone_opens_the_file_picker_from_the_keyboard(page, user):
    from playwright.sync_api import expect

    log_in(page, "alice", "alice-pass-123")
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))  # one listener for the whole test: the browser reports every picker
    for opened, key in enumerate(("Enter", "Space"), start=1):
        page.goto("/upload/")  # afresh: a browser opens one file picker at a time
        zone = page.locator("#dropzone")
        expect(zone).to_have_attribute("tabindex", "0")  # set by the page's script, which handles the keys
        zone.focus()
        page.keyboard.press(key)
        for _ in range(100):
            if len(choosers) == opened:
                break
            page.wait_for_timeout(100)
        assert len(choosers) == opened, f"{key} on the drop zone opened no file picker"
        assert choosers[-1].is_multiple()
        choosers[-1].set_files([])


def test_leaving_the_upload_page_while_a_file_is_on_its_way_asks_first(page, user, tmp_path):
    """A reload half-way through an upload dropped the file without a word; the browser now asks first."""
    held = []
    page.route("**/api/trailers/", lambda route: held.append(route))  # the upload never gets its answer
    log_in(page, "alice", "alice-pass-123")
    page.goto("/upload/")
    page.wait_for_load_state()
    page.click("h1")  # browsers ask before leaving only a page someone has used
    (tmp_path / "big.mp4").write_bytes(b"\0" * 100_000)
    page.set_input_files("#id_files", str(tmp_path / "big.mp4"))
    wait_in_page(page, "!!document.querySelector('.upload .upload-result')", timeout=15)
    asked = []

    def answer(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay

    page.on("dialog", answer)
    page.evaluate("() => { setTimeout(() => location.reload(), 0); }")
    page.wait_for_timeout(1500)
    assert asked == ["beforeunload"]
    assert page.locator(".upload").count() == 1  # still there, still on its way


def test_login_fields_line_up(page):
    page.goto("/accounts/login/")
    username, password = page.locator("[name=username]").bounding_box(), page.locator("[name=password]").bounding_box()
    assert username["x"] == password["x"] and username["width"] == password["width"]


def test_a_long_title_without_spaces_leaves_the_dataset_columns_on_screen(page, user):
    """An ordinary long file name as a title (250 characters, no spaces) pushed Status, Duration, the ratings and
    the prediction off the page at 1280 px: it now breaks inside the title column."""
    from tests.support.rows import create_trailer

    create_trailer(title="Trailer_" + "x" * 242)
    create_trailer(title="Short")
    log_in(page, "alice", "alice-pass-123")
    page.goto("/")
    assert page_width(page) <= 1280
    table = page.locator("table").first
    assert table.evaluate("t => t.getBoundingClientRect().right") <= 1280
    header = table.locator("th").last
    assert header.evaluate("h => h.getBoundingClientRect().right") <= 1280  # the last column is on screen


def test_a_long_title_without_spaces_breaks_in_the_trailer_page_s_heading(page, phone, user):
    """The heading of a trailer renamed to one long word ran off the page: 2,374 px wide at 1280, 2,326 on a
    phone, its first words cut off there."""
    from tests.support.rows import create_trailer

    trailer = create_trailer(title="Supercalifragilistic_" + "Unbreakable_Word_Without_Spaces_" * 6)
    for browser_page, width in ((page, 1280), (phone, PHONE_WIDTH)):
        log_in(browser_page, "alice", "alice-pass-123")
        browser_page.goto(f"/trailers/{trailer.pk}/")
        assert page_width(browser_page) <= width
        heading = browser_page.locator("h1").bounding_box()
        assert heading["x"] >= 0 and heading["x"] + heading["width"] <= width
