"""A cross-validated run's page in a real browser: the held-out estimate is the first thing under the status,
the per-fold table and the near-duplicate groups read on a desktop and fit a phone; a prediction shows its ±."""

from __future__ import annotations

import pytest

from tests.support.browser import log_in
from trailers.services import rate_trailer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390
LABELS = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 6.0, 4.0, 5.0, 7.0]


@pytest.fixture
def cv_run(user):
    from tests.support.rows import (
        create_cv_run,
        create_prediction,
        create_trailer,
        create_version,
        cross_validation_estimate,
        cv_version_metrics,
    )

    trailers = [create_trailer(title=f"Trailer {name}") for name in
                ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliet")]
    estimate = cross_validation_estimate(trailers, folds=5, groups=[[trailers[0].pk, trailers[5].pk]],
                                         neighbour_weight=0.5,
                                         predictions={t.pk: label + 0.3 for t, label in zip(trailers, LABELS,
                                                                                               strict=True)})
    run = create_cv_run(trailers, LABELS, folds=5, epochs=6, cross_validation=estimate)
    version = create_version(number=3, run=run, active=True, **cv_version_metrics(folds=5, trailers=10))
    for trailer, label in zip(trailers, LABELS, strict=True):
        create_prediction(version, trailer, label + 0.1, uncertainty=0.35)
        rate_trailer(user=user, trailer=trailer, score=int(label))
    return {"run": run, "version": version, "trailers": trailers}


def test_the_run_page_leads_with_the_estimate(page, phone, screenshot, cv_run):
    from playwright.sync_api import expect

    run = cv_run["run"]
    log_in(page, "alice", "alice-pass-123")
    page.goto(f"/runs/{run.pk}/")
    expect(page.locator("#cv-mae")).to_have_text("MAE 0.612 ± 0.041")
    expect(page.locator("#cv-estimate")).to_contain_text("never trained on")
    expect(page.locator("#cv-summary tbody tr")).to_have_count(5)  # the model, its head alone, three baselines
    expect(page.locator('#cv-summary tr[data-role="neighbours"]')).to_contain_text("Nearest neighbours")
    expect(page.locator("#cv-neighbour-share")).to_have_text("50%")
    expect(page.locator("#cv-folds tbody tr")).to_have_count(5)
    expect(page.locator("#cv-groups .duplicate-groups a")).to_have_count(2)
    # The estimate is what one sees first: on screen without scrolling, above the curves.
    expect(page.locator("#cv-mae")).to_be_in_viewport()
    estimate_box = page.locator("#cv-estimate").bounding_box()
    # The curves, drawn by uPlot from the server's numbers (the SVG is what shows without script).
    expect(page.locator(".uplot-box")).to_have_count(2)
    chart_box = page.locator(".uplot-box").first.bounding_box()
    assert estimate_box["y"] < chart_box["y"]
    expect(page.locator(".uplot-box").first.locator(".u-legend")).to_contain_text("held-out fold loss")
    # The picture is an image with the chart's words; the legend is text outside it (inside, a screen reader skipped
    # it with the image).
    picture = page.locator(".uplot-box").first.locator(".u-wrap")
    expect(picture).to_have_attribute("role", "img")
    assert picture.get_attribute("aria-label")
    expect(page.locator(".uplot-box[role=img]")).to_have_count(0)
    expect(page.locator("svg.line-chart").first).to_be_hidden()
    expect(page.locator("#per-epoch details")).not_to_have_attribute("open", "")
    page.click("#per-epoch summary")
    expect(page.locator("table.metrics tbody tr")).to_have_count(6)
    screenshot(page, "20-cv-run")
    screenshot(page, "20-cv-run-full", full_page=True)

    page.goto(f"/trailers/{cv_run['trailers'][0].pk}/")
    expect(page.locator("#predictions .uncertainty")).to_have_text("± 0.35")
    screenshot(page, "21-cv-trailer-prediction", full_page=True)
    page.goto("/predictions/")
    expect(page.locator("#held-out-summary")).to_contain_text("Held-out, cross-validated: MAE 0.300 over 10 trailers")
    screenshot(page, "22-cv-predictions", full_page=True)

    log_in(phone, "alice", "alice-pass-123")
    phone.goto(f"/runs/{run.pk}/")
    expect(phone.locator("#cv-mae")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the run page is {width} px wide on a {PHONE_WIDTH} px phone"
    for card in phone.locator("main .card").all():
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, "a card is cut off at the screen's edge"
    screenshot(phone, "23-phone-cv-run", full_page=True)


def test_a_running_runs_page_keeps_what_was_opened_and_focused_while_it_polls(page, user):
    """The run page is swapped whole every 1.5 s while the run trains: an opened "Per epoch" section closed again
    and the focus fell to the page's top, so nobody could read that table during a run."""
    from playwright.sync_api import expect

    from tests.support.rows import create_cv_run, create_trailer, fold_metrics
    from trailers.models import TrainingRun

    trailers = [create_trailer(title=f"Trailer {name}") for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo",
                                                                      "Foxtrot")]
    run = create_cv_run(trailers, LABELS[:6], epochs=4, status=TrainingRun.Status.RUNNING, progress=0.5, epoch=2,
                        metrics=fold_metrics(folds=3, epochs=4)[:6], cross_validation={})
    log_in(page, "alice", "alice-pass-123")
    page.goto(f"/runs/{run.pk}/")
    summary = page.locator("#per-epoch summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#per-epoch details")).to_have_attribute("open", "")
    with page.expect_response(lambda r: f"/runs/{run.pk}/" in r.url and r.request.headers.get("hx-request")):
        pass  # one poll answered and swapped in
    page.wait_for_timeout(400)
    expect(page.locator("#per-epoch details")).to_have_attribute("open", "")
    expect(page.locator("#per-epoch summary")).to_be_focused()
