"""Focus and labels, as the usability review asked: the rating's notice where the rating is and focus on the chosen
score, every field with its label, sort choices called what their columns are called, buttons that say what they
open. (A phone's columns, the cancel confirmation and the site icon: test_pages_columns_confirm_icon.py.)"""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support.html import classes, elements, find, text
from trailers.services import rate_trailer

SORTED = re.compile(r" \(sorted (?:ascending|descending)\)")  # the sort's words for screen readers
pytestmark = pytest.mark.django_db


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
    assert top["attrs"]["hx-swap-oob"] == "innerHTML" and text(top) == ""


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


# --- 6. names, labels and states ----------------------------------------------------------------------------------


def _sort_options(html: str) -> dict[str, str]:
    select = re.search(r'<select name="sort"[^>]*>(.*?)</select>', html, flags=re.S).group(1)
    return {value: unescape(label) for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)}


def _sortable_headings(html: str) -> dict[str, str]:
    return {a["attrs"]["data-sort"]: SORTED.sub("", text(a)).rstrip(" ▲▼") for a in find(html, "a") if "data-sort" in a["attrs"]}


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


@pytest.mark.django_db
def test_a_screen_reader_hears_which_column_sorts_and_which_way(user_client, make_trailer):
    make_trailer()
    html = user_client.get("/?sort=-mean").content.decode()
    assert ('data-sort="mean">Mean rating<span aria-hidden="true"> ▼</span><span class="visually-hidden"> '
            '(sorted descending)</span></a>') in html
    # aria-sort on the header cell, where it belongs, once (on the link it meant nothing)
    assert html.count("aria-sort=") == 1 and '<th class="num" aria-sort="descending"><a href="?sort=mean"' in html


@pytest.mark.django_db
def test_sign_up_says_what_browsers_may_fill_in(client):
    html = client.get("/accounts/signup/").content.decode()
    assert 'name="username"' in html and 'autocomplete="username"' in html and 'autocomplete="email"' in html
