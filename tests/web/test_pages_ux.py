"""What the usability review asked for, as the pages deliver it: confirmations, labels, names that match, focus."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest

from trailers.models import TrainingRun
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


class _Elements(HTMLParser):
    """Every start tag of a page, with its attributes and the text up to its end (enough for these checks)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "track", "wbr", "area", "base", "col", "embed"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": "", "inside": list(self._open)}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data


def elements(html: str) -> list[dict]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


def find(html: str, tag: str, **attrs) -> list[dict]:
    return [e for e in elements(html) if e["tag"] == tag
            and all(e["attrs"].get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]


def classes(element: dict) -> set[str]:
    return set(element["attrs"].get("class", "").split())


def text(element: dict) -> str:
    return " ".join(element["text"].split())


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


# --- 4. the rating's notice shows in the rating block, and focus stays on the chosen score -------------------------


def _rating_block(html: str) -> str:
    return re.search(r'<section class="card rating-card" id="my-rating"[^>]*>.*?</section>', html, flags=re.S).group(0)


def test_saved_notice_is_inside_the_rating_block_and_the_chosen_score_keeps_focus(user_client, make_trailer):
    trailer = make_trailer(title="Harbour")
    html = user_client.post(f"/trailers/{trailer.pk}/rating/", {"score": "4"}, HTTP_HX_REQUEST="true").content.decode()
    block = _rating_block(html)
    assert "Saved: you rated “Harbour” 4/10." in unescape(block)
    focused = [e for e in elements(block) if "autofocus" in e["attrs"]]
    assert [(e["tag"], text(e), e["attrs"]["aria-pressed"]) for e in focused] == [("button", "4", "true")]
    # The notices at the top of the page are emptied rather than filled far above the buttons.
    (top,) = find(html, "div", id="messages")
    assert top["attrs"]["hx-swap-oob"] == "true" and text(top) == ""


def test_after_removing_a_rating_focus_goes_to_the_notice_that_says_so(user_client, user, make_trailer):
    trailer = make_trailer(title="Harbour")
    rate_trailer(user=user, trailer=trailer, score=6)
    html = user_client.post(f"/trailers/{trailer.pk}/rating/", {"clear": "1"}, HTTP_HX_REQUEST="true").content.decode()
    focused = [e for e in elements(_rating_block(html)) if "autofocus" in e["attrs"]]
    assert [(e["tag"], text(e)) for e in focused] == [("p", "Your rating of “Harbour” was removed.")]


def test_the_trailer_page_itself_moves_focus_nowhere(user_client, user, make_trailer):
    trailer = make_trailer()
    rate_trailer(user=user, trailer=trailer, score=6)
    html = user_client.get(f"/trailers/{trailer.pk}/").content.decode()
    assert "autofocus" not in _rating_block(html)


# --- 2. on a phone the minor columns give way to the ones that matter ----------------------------------------------


def _headings(html: str) -> dict[str, bool]:
    """Each column heading of the page's table, and whether a phone may hide it."""
    return {text(th).rstrip(" ▲▼"): "optional-col" in classes(th) for th in find(html, "th") if text(th)}


def test_a_phone_hides_only_the_minor_columns(user_client, staff_client, make_trailer, make_run, make_version,
                                              make_prediction):
    trailer = make_trailer()
    make_prediction(make_version(number=1, active=True), trailer, 6.0)
    make_run(status=TrainingRun.Status.RUNNING)

    dataset = _headings(user_client.get("/").content.decode())
    assert {h for h, optional in dataset.items() if optional} == {"Status", "Duration", "Reference", "Uploaded"}
    assert not any(dataset[h] for h in ("Title", "Mean rating", "Ratings", "Yours", "Predicted"))

    predictions = _headings(user_client.get("/predictions/").content.decode())
    assert {h for h, optional in predictions.items() if optional} == {"Spread", "Per subclip", "Reference"}
    assert not predictions["Uncertainty"]  # the uncertainty stays beside the prediction

    runs = _headings(user_client.get("/runs/").content.decode())
    assert {h for h, optional in runs.items() if optional} == {"Epoch", "Preset", "Labels", "Device", "Started by",
                                                                 "Created"}

    # A hidden heading's cells are hidden with it: the same number of optional cells in every row.
    html = user_client.get("/").content.decode()
    (row,) = [e for e in find(html, "tr") if "data-trailer" in e["attrs"]]
    cells = [e for e in elements(html) if e["tag"] == "td" and row in e["inside"]]
    assert sum("optional-col" in classes(td) for td in cells) == 4


# --- 6. names, labels and states ----------------------------------------------------------------------------------


def _sort_options(html: str) -> dict[str, str]:
    select = re.search(r'<select name="sort"[^>]*>(.*?)</select>', html, flags=re.S).group(1)
    return {value: unescape(label) for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)}


def _sortable_headings(html: str) -> dict[str, str]:
    return {a["attrs"]["data-sort"]: text(a).rstrip(" ▲▼") for a in find(html, "a") if "data-sort" in a["attrs"]}


def test_sort_choices_are_called_what_the_columns_are_called(user_client, make_trailer, make_version,
                                                             make_prediction):
    trailer = make_trailer()
    make_prediction(make_version(number=1, active=True), trailer, 6.0)
    for url in ("/", "/predictions/"):
        html = user_client.get(url).content.decode()
        headings, options = _sortable_headings(html), _sort_options(html)
        assert set(headings) == {value.lstrip("-") for value in options}, url
        for value, label in options.items():
            arrow = "↓" if value.startswith("-") else "↑"
            assert label == f"{headings[value.lstrip('-')]} {arrow}", url
    dataset = _sort_options(user_client.get("/").content.decode())
    assert dataset["mine"] == "Yours ↑" and dataset["-count"] == "Ratings ↓"


def test_the_file_input_has_a_label_and_the_drop_zone_says_what_it_is(user_client):
    html = user_client.get("/upload/").content.decode()
    (file_input,) = find(html, "input", type="file")
    (label,) = find(html, "label", for_=file_input["attrs"]["id"])
    assert text(label) == "Trailer files to upload"
    (zone,) = find(html, "div", id="dropzone")
    (title,) = find(html, "p", id=zone["attrs"]["aria-labelledby"])
    assert text(title) == "Drop trailer files here, or choose them:"
    # Only the page's script makes the zone a keyboard stop (it is the script that opens the picker on Enter).
    assert "tabindex" not in zone["attrs"]


def test_the_menu_button_says_what_it_opens_and_whether_it_is_open(user_client):
    html = user_client.get("/").content.decode()
    (button,) = [b for b in find(html, "button") if "nav-toggle" in classes(b)]
    assert button["attrs"]["aria-expanded"] == "false"
    assert find(html, "nav", id=button["attrs"]["aria-controls"])
    assert "data-nav-toggle" in button["attrs"] and "onclick" not in button["attrs"]  # static/js/reelscore.js


def test_login_fields_each_have_their_label_in_one_column(client):
    html = client.get("/accounts/login/").content.decode()
    (form,) = [f for f in find(html, "form") if f["attrs"].get("action") == "/accounts/login/"]
    assert "stacked" in classes(form)
    for name in ("username", "password"):
        (field,) = find(html, "input", name=name)
        (label,) = find(html, "label", for_=field["attrs"]["id"])
        assert text(label).rstrip(":") == name.capitalize()


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
