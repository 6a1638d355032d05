"""What every page carries beside its content: on a phone the minor columns give way to the ones that matter,
cancelling a run asks first (and works without a script), and every page names the site icon."""

from __future__ import annotations

import re

import pytest

from tests.support.html import classes, elements, find, text
from trailers.models import TrainingRun

SORTED = re.compile(r" \(sorted (?:ascending|descending)\)")  # the sort's words for screen readers
pytestmark = pytest.mark.django_db


# --- 2. on a phone the minor columns give way to the ones that matter ----------------------------------------------


def _headings(html: str) -> dict[str, bool]:
    """Each column heading of the page's table, and whether a phone may hide it."""
    return {SORTED.sub("", text(th)).rstrip(" ▲▼"): "optional-col" in classes(th) for th in find(html, "th") if text(th)}


def test_a_phone_hides_only_the_minor_columns(user_client, staff_client, make_trailer, make_run, make_version,
                                              make_prediction):
    trailer = make_trailer()
    make_prediction(make_version(number=1, active=True), trailer, 6.0)
    make_run(status=TrainingRun.Status.RUNNING)

    dataset = _headings(user_client.get("/").content.decode())
    assert {h for h, optional in dataset.items() if optional} == {"Status", "Duration", "Reference", "Uploaded"}
    assert not any(dataset[h] for h in ("Title", "Mean rating", "Ratings", "Yours", "Predicted"))

    predictions = _headings(user_client.get("/predictions/").content.decode())
    assert {h for h, optional in predictions.items() if optional} == {"Unlike", "Spread", "Per subclip", "Reference"}
    assert not predictions["Uncertainty"] and not predictions["Likely (80%)"]  # they stay beside the prediction

    runs = _headings(user_client.get("/runs/").content.decode())
    assert {h for h, optional in runs.items() if optional} == {"Epoch", "Preset", "Labels", "Device", "Started by",
                                                                 "Created"}

    # A hidden heading's cells are hidden with it: the same number of optional cells in every row.
    html = user_client.get("/").content.decode()
    (row,) = [e for e in find(html, "tr") if "data-trailer" in e["attrs"]]
    cells = [e for e in elements(html) if e["tag"] == "td" and row in e["inside"]]
    assert sum("optional-col" in classes(td) for td in cells) == 4


# --- 3. cancelling a run asks first -----------------------------------------------------------------------------


def test_cancel_button_asks_for_confirmation_naming_the_run(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING, progress=0.3)
    html = staff_client.get(f"/runs/{run.pk}/").content.decode()
    (form,) = [f for f in find(html, "form") if f["attrs"].get("action") == f"/runs/{run.pk}/cancel/"]
    assert form["attrs"]["method"] == "post"
    assert form["attrs"]["hx-confirm"].startswith(f"Cancel run #{run.pk}?")
    assert form["attrs"]["hx-post"] == form["attrs"]["action"]  # htmx asks, then posts where the form does
    assert "onsubmit" not in form["attrs"]  # no inline handler: the Content-Security-Policy forbids them
    assert 'src="/static/js/reelscore.js"' in html
    # Without a script the same form still cancels: it is a plain POST.
    staff_client.post(form["attrs"]["action"])
    run.refresh_from_db()
    assert run.cancel_requested


def test_a_cancel_sent_by_htmx_loads_the_run_page_with_its_message(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING, progress=0.3)
    response = staff_client.post(f"/runs/{run.pk}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"] == f"/runs/{run.pk}/"  # not swapped in: loaded
    run.refresh_from_db()
    assert run.cancel_requested
    html = staff_client.get(response["HX-Redirect"]).content.decode()
    assert f"Cancel requested for Run #{run.pk}" in html


def test_every_page_names_the_site_icon_and_favicon_ico_leads_to_it(client, staff_client):
    from django.contrib.staticfiles import finders
    from PIL import Image

    for html in (client.get("/accounts/login/").content.decode(), staff_client.get("/admin/").content.decode(),
                 staff_client.get("/admin/trailers/trailer/").content.decode()):
        assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in html
        assert '<link rel="alternate icon" href="/static/img/favicon.ico">' in html
    response = client.get("/favicon.ico")  # no login needed: browsers ask before anyone logs in
    assert response.status_code == 302 and response["Location"] == "/static/img/favicon.ico"
    with Image.open(finders.find("img/favicon.ico")) as icon:
        assert icon.format == "ICO" and icon.size[0] >= 16
    assert finders.find("img/favicon.svg")
