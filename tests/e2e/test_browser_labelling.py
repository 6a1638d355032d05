"""Labelling in a real browser: rate next by the model's uncertainty with the keyboard (1–9, 0 for 10, S to skip,
U to undo), in place without a page load; and renaming and deleting one's own upload."""

from __future__ import annotations

import os

import pytest

from ml.synth import generate_trailer
from tests.support.browser import log_in, wait_in_page
from trailers.models import Rating, Trailer
from trailers.services import rate_trailer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
YOURS_COLUMN = 6  # the dataset table's "Yours": thumbnail, title, status, duration, mean, count, yours


@pytest.fixture
def video_bytes(tmp_path):
    """Real H.264 trailers (the player shows them), one per seed."""
    def make(seed: int) -> bytes:
        return generate_trailer(tmp_path / f"v{seed}.mp4", seed=seed, duration=3.0, fps=12, width=160,
                                height=120).path.read_bytes()
    return make


@pytest.fixture
def uncertain(video_bytes, other_user):
    """Three trailers the active 5-model version is unsure of to different degrees."""
    from tests.support.rows import create_prediction, create_trailer, create_version

    version = create_version(number=2, active=True, ensemble=5)
    trailers = {}
    for seed, (title, guess, spread) in enumerate([("Harbour Lights", 7.2, 0.3), ("Night Train", 6.1, 1.8),
                                                   ("Paper Moon", 4.4, 0.9)]):
        trailers[title] = create_trailer(title=title, content=video_bytes(400 + seed))
        create_prediction(version, trailers[title], guess, uncertainty=spread)
    rate_trailer(user=other_user, trailer=trailers["Harbour Lights"], score=6)
    return trailers


def test_rate_with_keys_skip_and_undo_without_a_page_load(page, screenshot, user, uncertain):
    from playwright.sync_api import expect

    log_in(page, "alice", "alice-pass-123")
    page.goto("/rate/?order=uncertain")
    card = page.locator(".rate-next")
    expect(card.locator("h2")).to_contain_text("Night Train")
    expect(page.locator("#rate-why")).to_contain_text("The model's guess is 6.1, its fold models disagreeing by ± 1.8")
    expect(page.locator("#rate-order")).to_have_value("uncertain")
    video = page.locator("video[data-player]")
    assert video.evaluate("v => v.muted") is True
    expect(page.locator("#keys-help")).to_contain_text("0 rates 10")
    screenshot(page, "rate-next")
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again

    page.keyboard.press("7")
    expect(card.locator("h2")).to_contain_text("Paper Moon")
    expect(page.locator("#messages")).to_contain_text("Saved: you rated “Night Train” 7/10.")
    expect(page.locator("#announcer")).to_have_text("Next to rate: Paper Moon")  # the next one, said too
    assert Rating.objects.get(user=user, trailer=uncertain["Night Train"]).score == 7
    # 0 is 10, and U at once takes it back (the key waits for the rating's answer).
    page.keyboard.press("0")
    page.keyboard.press("u")
    expect(page.locator("#messages")).to_contain_text("Undone: your rating of “Paper Moon” (10/10) was removed.")
    expect(card.locator("h2")).to_contain_text("Paper Moon")
    expect(page.locator("#rate-why")).to_contain_text("You took back your rating of it")
    assert not Rating.objects.filter(user=user, trailer=uncertain["Paper Moon"]).exists()
    # S skips it: the last one comes up; typing in the order select is not rating.
    page.keyboard.press("s")
    expect(card.locator("h2")).to_contain_text("Harbour Lights")
    expect(page.locator("#rate-remaining")).to_contain_text("1 skipped")
    page.keyboard.press("3")
    expect(page.locator("#rate-next .notice-success")).to_contain_text("Nothing left to rate (apart from the ones you skipped")
    assert page.evaluate("window.notReloaded") is True
    assert dict(Rating.objects.filter(user=user).values_list("trailer__title", "score")) == {
        "Night Train": 7, "Harbour Lights": 3}
    # The card the last key brought is settled, and htmx has taken its order form over: a change made sooner
    # submits the form as a page of its own (no history entry of htmx's to go back past).
    wait_in_page(page, "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling') "
                       "&& !!document.querySelector('#rate-order').form['htmx-internal-data']")
    page.select_option("#rate-order", "fewest")
    expect(page.locator("#rate-order")).to_have_value("fewest")
    page.wait_for_url("**/rate/?order=fewest")  # the answer is in, and its address pushed (going back before raced it)
    assert page.evaluate("window.notReloaded") is True  # in place, as htmx brings it
    # Back, past the order's change, asks the server for the page as it is now: htmx restored its own copy of the
    # card as it was first shown (Night Train, nothing to take back), or the card alone without the page around it.
    page.go_back(wait_until="commit")
    # htmx keeps no copy: it loads the address again.
    wait_in_page(page, "performance.getEntriesByType('navigation')[0].type === 'reload' "
                       "&& document.readyState === 'complete'", timeout=15)
    # The address before the order's change: the skip's (the test went back before the change's address was pushed,
    # and so landed one further back, while the answer raced it).
    assert page.url.endswith(f"/rate/?order=uncertain&skip={uncertain['Paper Moon'].pk}")
    expect(page.locator("nav.nav")).to_have_count(1)
    expect(page.locator("#rate-next .notice-success")).to_contain_text("Nothing left to rate (apart from the ones you "
                                                                      "skipped")
    expect(page.locator("#undo")).to_contain_text("take back 3/10 for “Harbour Lights”")
    assert not page.js_errors


def test_keys_typed_before_any_answer_apply_in_order(page, user, uncertain):
    """7, 0 and U typed at once: each waits for the answer before it, so U takes back the 10, not the 7 (each
    answer swaps the card and, out of band, the messages, and only one of those may release the next key)."""
    from playwright.sync_api import expect

    log_in(page, "alice", "alice-pass-123")
    page.goto("/rate/?order=uncertain")
    expect(page.locator(".rate-next h2")).to_contain_text("Night Train")
    page.keyboard.type("70u")
    expect(page.locator("#messages")).to_contain_text("Undone: your rating of “Paper Moon” (10/10) was removed.")
    expect(page.locator(".rate-next h2")).to_contain_text("Paper Moon")
    expect(page.locator("#undo")).to_contain_text("take back 7/10 for “Night Train”")
    assert dict(Rating.objects.filter(user=user).values_list("trailer__title", "score")) == {"Night Train": 7}
    assert not page.js_errors


def test_rename_and_delete_my_upload_after_confirming(page, user, video_bytes):
    from playwright.sync_api import expect

    from tests.support.rows import create_trailer
    from trailers.models import Trailer

    trailer = create_trailer(title="good", uploaded_by=user, content=video_bytes(500))
    frames = [s.frames.path for s in trailer.subclips.all()]
    log_in(page, "alice", "alice-pass-123")
    page.goto(f"/trailers/{trailer.pk}/")
    page.fill("#rename-title", "Good, the director's cut")
    page.click("#rename")
    expect(page.locator("h1")).to_have_text("Good, the director's cut")
    expect(page.locator("#messages")).to_contain_text("Renamed “good” to “Good, the director's cut”.")

    dialogs = []

    def answer(dialog, accept):
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))  # thought better of it
    page.click("#delete-trailer")
    expect(page.locator("h1")).to_have_text("Good, the director's cut")
    assert Trailer.objects.filter(pk=trailer.pk).exists()
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click("#delete-trailer")
    expect(page.locator("h1")).to_have_text("Dataset")
    expect(page.locator("#messages")).to_contain_text("“Good, the director's cut” was deleted")
    assert dialogs[0].startswith("Delete “Good, the director's cut”? Its file, frames, ratings and predictions")
    assert not Trailer.objects.filter(pk=trailer.pk).exists()
    assert not any(os.path.exists(path) for path in frames)


def test_a_rating_pressed_after_logging_out_elsewhere_takes_the_page_to_log_in(page, user, uncertain):
    """Logged out in another tab (the session cookie gone), then a key pressed on Rate next: the whole page goes
    to log in and says the rating was not saved, then comes back; before, the login page appeared inside the card.
    The same with the tab's CSRF token out of date (logged out and in again elsewhere): the page is loaded again
    and says so, where Django's technical CSRF page replaced the card."""
    from playwright.sync_api import expect

    log_in(page, "alice", "alice-pass-123")
    page.goto("/rate/?order=uncertain")
    expect(page.locator(".rate-next h2")).to_contain_text("Night Train")
    page.context.clear_cookies(name="sessionid")
    page.keyboard.press("7")
    page.wait_for_url(lambda url: "/accounts/login/?next=/rate/" in url)
    expect(page.locator("#messages")).to_contain_text("You were logged out, so what you just did was not saved")
    assert not Rating.objects.filter(user=user).exists()
    page.fill("[name=username]", "alice")
    page.fill("[name=password]", "alice-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url.endswith("/rate/?order=uncertain"))

    # Logged out and in again in another tab: the browser's CSRF cookie is new, the tab's token is not.
    [old] = [c for c in page.context.cookies() if c["name"] == "csrftoken"]
    page.context.add_cookies([{**old, "value": "n" * 32}])
    page.keyboard.press("7")
    expect(page.locator("#messages")).to_contain_text("This page was out of date")
    expect(page.locator(".rate-next h2")).to_contain_text("Night Train")
    assert "CSRF verification failed" not in page.content()
    assert not Rating.objects.filter(user=user).exists()


def test_back_shows_the_pages_as_they_are_now(page, user, video_bytes):
    """Back after rating showed the dataset and the trailer page as they were (the rating not given, the old mean),
    and a deleted trailer's page came back with its buttons: pages are never kept, and one the browser froze whole
    is loaded again."""
    from playwright.sync_api import expect

    from tests.support.rows import create_trailer

    trailer = create_trailer(title="Harbour Lights", uploaded_by=user, content=video_bytes(410))
    log_in(page, "alice", "alice-pass-123")
    page.goto("/")
    row = page.locator("tr", has=page.locator("a", has_text="Harbour Lights"))
    yours = row.locator("td").nth(YOURS_COLUMN)
    expect(yours).to_have_text("—")
    page.click("text=Harbour Lights")
    page.click("#my-rating button.score >> text='7'")
    expect(page.locator("#my-rating")).to_contain_text("Saved: you rated “Harbour Lights” 7/10.")
    page.go_back()
    expect(page.locator("h1")).to_have_text("Dataset")
    expect(yours).to_have_text("7")  # shown as it is now, not as the page was left
    page.go_forward()
    expect(page.locator("#my-rating button.score.chosen")).to_have_text("7")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-trailer")
    expect(page.locator("#messages")).to_contain_text("“Harbour Lights” was deleted")
    page.go_back()  # the deleted trailer's page: asked for again, it is gone
    expect(page.locator("h1")).not_to_have_text("Harbour Lights")
    assert page.locator("#delete-trailer").count() == 0
    assert not page.locator("#my-rating").count() and not Trailer.objects.filter(pk=trailer.pk).exists()


def test_the_keys_can_be_turned_off_and_the_focus_follows_the_next_trailer(page, user, uncertain):
    """A key pressed by accident (or heard by speech input) rated, and after each answer the focus fell to the
    page's top, so a keyboard user tabbed through the whole page again for every trailer."""
    from playwright.sync_api import expect

    log_in(page, "alice", "alice-pass-123")
    page.goto("/rate/?order=uncertain")
    card = page.locator(".rate-next")
    expect(card.locator("h2")).to_contain_text("Night Train")
    page.locator('button[name="score"][value="6"]').focus()
    page.keyboard.press("Enter")
    expect(card.locator("h2")).to_contain_text("Paper Moon")
    expect(page.locator('#rate-next button[name="score"][value="1"]')).to_be_focused()
    page.uncheck("#rate-keys-on")
    page.locator("h1").click()
    page.keyboard.press("7")
    page.wait_for_timeout(500)
    expect(card.locator("h2")).to_contain_text("Paper Moon")  # nothing rated
    assert not Rating.objects.filter(user=user, trailer=uncertain["Paper Moon"]).exists()
    page.reload()
    expect(page.locator("#rate-keys-on")).not_to_be_checked()  # remembered in this browser


def test_stepping_through_the_order_with_the_arrow_keys_changes_nothing_until_show(page, user, uncertain):
    """Each arrow key on the order's list swapped in another trailer (a choice made on every step); a screen reader
    user stepping to the order they want went through the others' trailers on the way."""
    from playwright.sync_api import expect

    log_in(page, "alice", "alice-pass-123")
    page.goto("/rate/?order=uncertain")
    card = page.locator(".rate-next")
    expect(card.locator("h2")).to_contain_text("Night Train")
    picker = page.locator("#rate-order")
    picker.focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(700)
    assert page.url.endswith("/rate/?order=uncertain")  # nothing asked of the server
    expect(card.locator("h2")).to_contain_text("Night Train")
    chosen = picker.evaluate("s => s.value")
    assert chosen != "uncertain"
    page.click("#rate-order-show")
    page.wait_for_url(f"**/rate/?order={chosen}")
    expect(page.locator("#rate-order")).to_have_value(chosen)
    page.locator("h1").click()  # a pointer: a choice picked submits at once
    page.select_option("#rate-order", "uncertain")
    page.wait_for_url("**/rate/?order=uncertain")
    expect(card.locator("h2")).to_contain_text("Night Train")
    assert not page.js_errors
