"""Runs and versions in a real browser: tick runs and compare them (curves overlaid by uPlot, the options that
differ, figures side by side); activate a worse version, warned and asked again; roll back in one click."""

from __future__ import annotations

import pytest

from tests.support.browser import log_in
from trailers.models import ModelVersion

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def versions(user, staff_user):
    """Two cross-validated runs on the same six rated trailers: v1 (active) predicts them well, v2 worse."""
    from tests.support.rows import (
        create_cv_run,
        create_prediction,
        create_trailer,
        create_version,
        cross_validation_estimate,
        cv_version_metrics,
        rate,
    )

    trailers = [create_trailer(title=f"Trailer {i}") for i in range(6)]
    labels = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    for trailer, label in zip(trailers, labels, strict=True):
        rate(user, trailer, int(label))
    runs = []
    for offset, lr, note in ((0.2, 0.001, "the one we ship"), (1.5, 0.01, "lr ten times higher")):
        # Curves of their own: the high learning rate falls fast, then climbs back (it overfits).
        metrics = [{"epoch": e, "fold": f, "train_loss": (1.2 / e if lr < 0.005 else 0.9 / e ** 2) + 0.05 * f,
                    "val_loss": (1.3 / e + 0.1 if lr < 0.005 else 0.5 + 0.15 * (e - 2) ** 2) + 0.05 * f,
                    "val_mae": (1.1 - 0.2 * e if lr < 0.005 else 0.9 + 0.12 * (e - 2) ** 2) + 0.03 * f,
                    "baseline_mae": 1.25, "seconds": 0.5}
                   for f in (1, 2, 3) for e in range(1, 5)]
        estimate = cross_validation_estimate(trailers, predictions={t.pk: v + offset for t, v in zip(trailers, labels,
                                                                                                     strict=True)})
        runs.append(create_cv_run(trailers, labels, epochs=4, preset="default", note=note, cross_validation=estimate,
                                  metrics=metrics,
                                  train_config={"epochs": 4, "lr": lr, "folds": 3, "restore_best": False}))
    v1 = create_version(number=1, run=runs[0], active=True, **cv_version_metrics(val_mae=0.2))
    v2 = create_version(number=2, run=runs[1], **cv_version_metrics(val_mae=1.5))
    for trailer, label in zip(trailers, labels, strict=True):
        create_prediction(v1, trailer, label + 0.2)
        create_prediction(v2, trailer, label + 1.5)
    return {"runs": runs, "v1": v1, "v2": v2}


def test_compare_two_runs(page, screenshot, versions):
    from playwright.sync_api import expect

    first, second = versions["runs"]
    log_in(page, "staff", "staff-pass-123")
    page.goto("/runs/")
    page.check(f"#compare-{first.pk}")
    page.check(f"#compare-{second.pk}")
    page.click("#compare-runs")
    expect(page.locator("h1")).to_contain_text(f"Compare run #{first.pk} and run #{second.pk}")
    # The curves of both runs on one chart, with a legend entry (and its value under the pointer) for each.
    charts = page.locator(".uplot-box")
    expect(charts).to_have_count(2)
    legend = charts.last.locator(".u-legend")
    expect(legend).to_contain_text(f"#{first.pk} MAE")
    expect(legend).to_contain_text(f"#{second.pk} MAE")
    charts.last.scroll_into_view_if_needed()
    box = charts.last.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
    expect(legend.locator(".u-value").nth(1)).not_to_have_text("—")
    # What differs, and the figures side by side, the better one marked.
    expect(page.locator("#compare-options tbody tr")).to_have_count(1)
    expect(page.locator("#compare-options tr[data-option='lr']")).to_contain_text("0.001")
    expect(page.locator("tr[data-figure='val_mae'] td.better")).to_have_text("0.200 (the best)")  # said to a screen reader too, not only shown
    expect(page.locator("#compare-figures")).to_contain_text("lr ten times higher")
    screenshot(page, "compare-runs", full_page=True)
    assert not page.js_errors


def test_activate_a_worse_version_after_a_warning_then_roll_back(page, versions):
    from playwright.sync_api import expect

    v1, v2 = versions["v1"], versions["v2"]
    log_in(page, "staff", "staff-pass-123")
    page.goto(f"/versions/{v2.pk}/")
    expect(page.locator("#version-comparison")).to_contain_text("not better on the same 6 held-out trailers")
    page.click("#activate-version")
    expect(page.locator("h1")).to_have_text("Activate v2 all the same?")
    expect(page.locator("#activate-reason")).to_contain_text("MAE 1.500 against v1's 0.200")
    assert ModelVersion.objects.get(is_active=True).pk == v1.pk  # asked, not done
    page.click("#activate-anyway")
    expect(page.locator("#messages")).to_contain_text("Model version v2 is now active")
    assert ModelVersion.objects.get(is_active=True).pk == v2.pk

    page.goto("/versions/")
    expect(page.locator("tr[data-version='2'] .badge")).to_have_text("active")
    page.click("#rollback")
    expect(page.locator("#messages")).to_contain_text("Rolled back: model version v1 is active again in place of v2")
    expect(page.locator("tr[data-version='1'] .badge")).to_have_text("active")
    assert ModelVersion.objects.get(is_active=True).pk == v1.pk
    assert not page.js_errors


def test_the_version_picker_waits_for_show_when_stepped_with_the_keys(page, versions):
    """Each arrow key on the closed picker loaded another version's page and lost the focus: a keyboard user could
    not step through the choices. The mouse still shows a version at once."""
    from playwright.sync_api import expect

    v1, v2 = versions["v1"], versions["v2"]
    log_in(page, "alice", "alice-pass-123")
    page.goto(f"/predictions/?version={v1.pk}")
    picker = page.locator("select[name=version]")
    picker.focus()
    page.keyboard.press("ArrowDown" if picker.evaluate("s => s.selectedIndex") == 0 else "ArrowUp")
    page.wait_for_timeout(700)
    assert page.url.endswith(f"?version={v1.pk}")  # not loaded
    expect(picker).to_be_focused()
    page.click("#show-version")
    page.wait_for_url(f"**/predictions/?version={v2.pk}")
    page.locator("h1").click()  # a pointer again
    page.select_option("select[name=version]", str(v1.pk))
    page.wait_for_url(f"**/predictions/?version={v1.pk}")
