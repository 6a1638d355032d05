"""The whole product in a real browser, on a live server with a real worker.

A new user signs up, uploads two synthetic trailers (file button and drag and
drop) and a bad file, sees the refusal, watches a trailer become ready without
reloading, rates it, rates the next ones; then staff start a tiny training run
in the admin, watch its page until it succeeds, activate the version, and see
the predictions and download them as CSV.
"""

from __future__ import annotations

import base64
import csv
import io
import re

import pytest

from ml.synth import generate_trailer
from tests.support.browser import log_in, wait_in_page
from tests.support.processes import wait_for
from trailers.models import ModelVersion, Prediction, Rating, Trailer, TrainingRun
from trailers.services import ingest_trailer, rate_trailer

pytestmark = [pytest.mark.e2e, pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

# The admin's start-a-run form, as tests/pipeline's TINY_RUN: a model small enough to train in seconds on a CPU.
TINY_RUN = {
    "model__frame_size": "32", "model__channels1": "4", "model__channels2": "8", "model__embedding_size": "8",
    "model__lstm_size": "8", "train__epochs": "3", "train__batch_size": "4", "train__num_workers": "0",
    "train__frames_per_sample": "4", "train__device": "cpu", "train__lr": "0.01",
}


@pytest.fixture
def videos(tmp_path):
    """Two synthetic trailers to upload in the browser, and a file that is not a video."""
    first = generate_trailer(tmp_path / "Harbour Lights.mp4", seed=201, duration=4.0, fps=12, width=64, height=48)
    second = generate_trailer(tmp_path / "Night Train.mp4", seed=202, duration=4.0, fps=12, width=64, height=48)
    bad = tmp_path / "shopping-list.mp4"
    bad.write_text("eggs, milk, bread: not a video at all\n" * 20)
    return first.path, second.path, bad


@pytest.fixture
def rated_by_others(worker, tmp_path, other_user, staff_user):
    """Two more trailers, already rated by other people, so that a run has enough labelled trailers."""
    trailers = []
    for seed in (301, 302):
        synth = generate_trailer(tmp_path / f"seeded-{seed}.mp4", seed=seed, duration=4.0, fps=12, width=64,
                                 height=48)
        trailer = ingest_trailer(source=synth.path, original_name=synth.path.name)
        rate_trailer(user=other_user, trailer=trailer, score=max(1, min(10, round(synth.rating))))
        trailers.append(trailer)
    rate_trailer(user=staff_user, trailer=trailers[0], score=5)
    return trailers


def drop_file(page, selector: str, path, mime: str = "video/mp4") -> None:
    """Drag and drop a file from disk onto an element, as a person would from their file manager."""
    data = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([data, name, mime]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: mime}));
            return transfer;
        }""",
        [data, path.name, mime],
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def fill_admin_form(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f"[name='{name}']")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def test_upload_rate_train_and_predict(page, screenshot, worker, rated_by_others, videos, staff_user):
    from playwright.sync_api import expect

    first, second, bad = videos

    # --- sign up -------------------------------------------------------------------------------------------
    page.goto("/accounts/signup/")
    page.fill("[name=username]", "carol")
    page.fill("[name=password1]", "Reel-score-2026!")
    page.fill("[name=password2]", "Reel-score-2026!")
    screenshot(page, "01-signup")
    page.click("button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Welcome, carol: your account is ready.")
    expect(page.locator("h1")).to_have_text("Dataset")

    # --- upload: two trailers and a bad file; per-file progress and results ----------------------------------
    page.click("nav >> text=Upload")
    expect(page.locator("h1")).to_have_text("Upload trailers")
    page.wait_for_load_state()  # the page's script is ready
    page.set_input_files("#id_files", [str(first), str(bad)])
    drop_file(page, "#dropzone", second)
    results = page.locator(".uploads .upload")
    expect(results).to_have_count(3)
    expect(page.locator(".upload.upload-ok")).to_have_count(2, timeout=30_000)
    expect(page.locator(".upload.upload-refused")).to_have_count(1)
    refused = page.locator(".upload.upload-refused")
    expect(refused.locator(".upload-name")).to_have_text("shopping-list.mp4")
    expect(refused.locator(".upload-result")).to_contain_text("Refused:")
    expect(refused.locator("progress")).to_be_hidden()  # a full bar beside a refusal read as a file that went in
    # The dropped file, sent last, on top; the two chosen together below it in the order chosen.
    expect(results.locator(".upload-name")).to_have_text(["Night Train.mp4", "Harbour Lights.mp4",
                                                          "shopping-list.mp4"])
    expect(page.locator(".upload.upload-ok progress").first).to_have_attribute("value", "100")
    # Each uploaded row follows its trailer's processing until it is ready.
    for row in page.locator(".upload.upload-ok").all():
        expect(row.locator(".upload-status")).to_have_text(" — ready: 2 subclips.", timeout=60_000)
    screenshot(page, "02-upload")
    assert set(Trailer.objects.values_list("title", flat=True)) >= {"Harbour Lights", "Night Train"}

    # --- the trailer page: status follows processing without a reload ------------------------------------------
    page.click(".upload.upload-ok a.trailer-link >> text=Harbour Lights")
    expect(page.locator("h1")).to_have_text("Harbour Lights")
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("#trailer-status")).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(page.locator(".subclip img")).to_have_count(2)
    expect(page.locator(".subclip figcaption").first).to_contain_text("Subclip 1: 0:00.5–0:02.0")
    assert page.evaluate("window.__notReloaded") is True, "the page reloaded"

    # The player's file is served with range requests.
    video_url = page.locator("video.player").get_attribute("src")
    ranged = page.request.get(video_url, headers={"Range": "bytes=0-99"})
    assert ranged.status == 206 and ranged.headers["content-range"].startswith("bytes 0-99/")

    # --- rate it without a reload --------------------------------------------------------------------------------
    page.click("#my-rating button.score >> text='8'")
    expect(page.locator("#my-score")).to_have_attribute("data-score", "8")
    # The notice shows beside the buttons, and focus stays on the score just chosen.
    expect(page.locator("#my-rating")).to_contain_text("Saved: you rated “Harbour Lights” 8/10.")
    expect(page.locator("#my-rating button.score.chosen")).to_be_focused()
    expect(page.locator("#distribution")).to_contain_text("mean of 1 rating")
    assert page.evaluate("window.__notReloaded") is True, "rating reloaded the page"
    screenshot(page, "03-trailer")

    # --- rate next: fewest ratings first --------------------------------------------------------------------------
    wait_for(lambda: Trailer.objects.filter(status=Trailer.Status.READY).count() == 4, timeout=60,
             message="every trailer to be ready")
    page.click("nav >> text=Rate next")
    expect(page.locator(".rate-next h2 a")).to_have_text("Night Train")  # no ratings yet: first
    screenshot(page, "04-rate-next")
    page.click(".rate-form button.score >> text='6'")
    expect(page.locator("#messages")).to_contain_text("Saved: you rated “Night Train” 6/10.")
    next_title = page.locator(".rate-next h2 a").inner_text()
    seeded = {t.title for t in rated_by_others}
    assert next_title == rated_by_others[1].title  # one rating beats two
    page.click(".rate-form button.score >> text='4'")
    expect(page.locator(".rate-next h2 a")).to_have_text(rated_by_others[0].title)
    page.click(".rate-form button.score >> text='5'")
    expect(page.locator(".notice-success").last).to_contain_text("Nothing left to rate")
    assert Rating.objects.filter(user__username="carol").count() == 4

    # --- the dataset shows it all ---------------------------------------------------------------------------------
    page.click("nav >> text=Dataset")
    expect(page.locator("table.dataset tbody tr")).to_have_count(4)
    expect(page.locator("table.dataset tbody tr", has_text="Harbour Lights")).to_contain_text("8")
    screenshot(page, "05-dataset")

    # --- staff start a run in the admin and watch it ---------------------------------------------------------------
    page.locator("nav form button").click()  # log out
    expect(page.locator("h1")).to_have_text("Log in")
    page.fill("[name=username]", staff_user.username)
    page.fill("[name=password]", "staff-pass-123")
    page.click("button[type=submit]")
    page.goto("/admin/trailers/trainingrun/add/")
    fill_admin_form(page, TINY_RUN)
    screenshot(page, "06-admin-start-run")
    page.click("input[name=_start]")
    expect(page.locator(".notice-success")).to_contain_text("is queued: this page shows its progress")
    run = TrainingRun.objects.latest("pk")
    expect(page.locator("h1")).to_have_text(f"Run #{run.pk}")
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "succeeded", timeout=180_000)
    assert page.evaluate("window.__notReloaded") is True
    # The status is said once it changes, in the page's announcer (the live part is swapped whole).
    expect(page.locator("#announcer")).to_have_text("Run status: succeeded")
    expect(page.locator("svg.line-chart")).to_have_count(2)
    expect(page.locator("svg.line-chart polyline")).to_have_count(4)  # curves averaged over folds
    expect(page.locator("svg.line-chart").last).to_contain_text("held-out fold MAE")
    run.refresh_from_db()
    folds = run.cross_validation["folds"]
    expect(page.locator("#run-dataset")).to_contain_text(f"4 trailers, cross-validated in {folds} folds")
    expect(page.locator("#cv-estimate")).to_contain_text("never trained on")
    expect(page.locator("#cv-mae")).to_have_text(re.compile(r"MAE \d+\.\d{3} ± \d+\.\d{3}"))
    expect(page.locator("#cv-summary tbody tr")).to_have_count(len(run.cross_validation["summary"]))
    expect(page.locator("#cv-folds tbody tr")).to_have_count(folds)
    expect(page.locator("#cv-groups-summary")).to_be_visible()
    expect(page.locator("table.metrics tbody tr")).to_have_count(3)  # one row per epoch, mean over folds
    screenshot(page, "07-run")
    screenshot(page, "07-run-full", full_page=True)

    # --- activate the version in the admin -----------------------------------------------------------------------
    version = ModelVersion.objects.get(run=run)
    page.goto("/admin/trailers/modelversion/")
    page.check(f"input[name=_selected_action][value='{version.pk}']")
    page.select_option("select[name=action]", "activate")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text(re.compile(f"{version} is now active", re.IGNORECASE))

    # --- predictions: the page waits for scoring, then shows them; CSV download -------------------------------------
    page.goto("/predictions/")
    expect(page.locator("table.predictions tbody tr[data-trailer]")).to_have_count(4, timeout=60_000)
    assert Prediction.objects.filter(model_version=version).count() == 4
    expect(page.locator("svg.scatter-chart circle.point")).to_have_count(4)
    for metric in ("mae", "rmse", "spearman"):
        assert re.fullmatch(r"-?\d+\.\d{3}", page.locator(f"#metric-{metric}").inner_text()), metric
    screenshot(page, "08-predictions")
    screenshot(page, "08-predictions-full", full_page=True)
    with page.expect_download() as download_info:
        page.click("#csv-download")
    download = download_info.value
    assert download.suggested_filename == f"reelscore-predictions-v{version.number}.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert {r["title"] for r in rows} == {"Harbour Lights", "Night Train"} | seeded
    assert all(1 <= float(r["mean_rating"]) <= 10 and r["predicted"] for r in rows)
    assert all(float(r["uncertainty"]) >= 0 for r in rows)
    # The worker's fold models kept their errors: each prediction carries its 80% interval.
    assert all(float(r["low"]) <= float(r["predicted"]) <= float(r["high"]) for r in rows), rows

    # --- the trailer page now shows the prediction, per subclip ---------------------------------------------------------
    page.goto(f"/trailers/{Trailer.objects.get(title='Harbour Lights').pk}/")
    expect(page.locator("#predictions")).to_contain_text(f"{version}")
    expect(page.locator("#predictions .subclip-scores li")).to_have_count(2)
    expect(page.locator("#predictions .uncertainty")).to_have_text(re.compile(r"± \d+\.\d{2}"))
    expect(page.locator("#predictions .interval")).to_have_text(re.compile(r"likely \d+\.\d–\d+\.\d"))
    screenshot(page, "09-trailer-with-prediction")
    assert not page.js_errors, page.js_errors


def test_a_trailer_browsers_cannot_play_is_shown_from_its_copy(page, worker, tmp_path, user):
    """An AVI (MPEG-4 part 2), which Chromium cannot play, plays on its page from the MP4 copy made while processing."""
    from playwright.sync_api import expect

    synth = generate_trailer(tmp_path / "Old Camcorder.avi", seed=203, duration=4.0, fps=12, width=64, height=48,
                             audio=True)
    trailer = ingest_trailer(source=synth.path, original_name=synth.path.name)
    wait_for(lambda: Trailer.objects.get(pk=trailer.pk).status == Trailer.Status.READY, timeout=60,
             message="the AVI to be processed")
    assert Trailer.objects.get(pk=trailer.pk).browser_copy

    log_in(page, user.username, "alice-pass-123")
    page.goto(f"/trailers/{trailer.pk}/")
    player = page.locator("video.player")
    wait_in_page(page, "document.querySelector('video.player').readyState >= 1", timeout=15)
    assert player.evaluate("v => v.duration") == pytest.approx(4.0, abs=0.3)
    expect(page.locator(".player-error")).to_be_hidden()
    download = page.request.get(f"/trailers/{trailer.pk}/original/")
    assert download.body() == synth.path.read_bytes()  # the file as uploaded, untouched


def test_without_a_copy_the_page_says_why_the_trailer_does_not_play(page, worker, tmp_path, user, settings):
    from playwright.sync_api import expect

    synth = generate_trailer(tmp_path / "Raw.avi", seed=204, duration=2.0, fps=12, width=64, height=48)
    trailer = ingest_trailer(source=synth.path, original_name=synth.path.name)
    wait_for(lambda: Trailer.objects.get(pk=trailer.pk).status == Trailer.Status.READY, timeout=60,
             message="the AVI to be processed")
    Trailer.objects.filter(pk=trailer.pk).update(browser_copy="")  # as with BROWSER_COPIES=0

    log_in(page, user.username, "alice-pass-123")
    page.goto(f"/trailers/{trailer.pk}/")
    expect(page.locator(".player-error")).to_be_visible(timeout=15_000)
    expect(page.locator(".player-error")).to_contain_text("This browser cannot play this trailer's format")
    expect(page.locator("video.player")).to_be_hidden()
