"""The admin's long lists page like any list: 50 rows a page, a deep page read ids first, the same rows in the
same order as the list would give them."""

from __future__ import annotations

import re

import pytest

from trailers.admin import ADMIN_PAGE
from trailers.models import Prediction, Trailer

pytestmark = pytest.mark.django_db


def _titles(html: str) -> list[str]:
    return re.findall(r'<th class="field-title"><a href="[^"]+">([^<]+)</a>', html)


def _prediction_rows(html: str) -> list[str]:
    return re.findall(r'<th class="field-trailer[^"]*"><a href="[^"]+">([^<]+)</a>', html)


def test_every_page_of_the_trailer_list_shows_its_own_rows_in_order(staff_client, make_trailer):
    for i in range(2 * ADMIN_PAGE + 7):
        make_trailer(title=f"T{i:03d}")
    expected = list(Trailer.objects.order_by("-uploaded_at", "-id").values_list("title", flat=True))
    seen = []
    for page in range(3):
        html = staff_client.get("/admin/trailers/trailer/", {"p": page + 1} if page else {}).content.decode()
        seen += _titles(html)
    assert seen == expected and len(seen) == 2 * ADMIN_PAGE + 7


def test_a_deep_page_of_predictions_is_the_lists_own_slice(staff_client, make_trailer, make_version,
                                                           make_prediction):
    version = make_version(number=1)
    for i in range(ADMIN_PAGE + 5):
        make_prediction(version, make_trailer(title=f"P{i:03d}"), 5.0)
    newest_first = [p.trailer.title for p in Prediction.objects.select_related("trailer").order_by("-id")]
    html = staff_client.get("/admin/trailers/prediction/", {"p": 2}).content.decode()
    assert _prediction_rows(html) == newest_first[ADMIN_PAGE:] and len(newest_first[ADMIN_PAGE:]) == 5


def test_a_title_changed_in_the_admin_is_made_distinct_as_the_pages_make_it(staff_client, make_trailer):
    """The admin saved any title, one another trailer had included; now it renames as the pages and the API do."""
    import re
    from html import unescape

    from trailers.models import Trailer

    make_trailer(title="Night Train")
    mine = make_trailer(title="Harbour Lights", subclips=0)
    page = staff_client.get(f"/admin/trailers/trailer/{mine.pk}/change/").content.decode()
    form = {name: unescape(value) for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}
    form.update({"title": "  Night Train ", "_save": "Save"})
    response = staff_client.post(f"/admin/trailers/trailer/{mine.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    mine.refresh_from_db()
    assert mine.title == f"Night Train ({mine.original_name.rsplit('.', 1)[-1].lower()})"
    assert Trailer.objects.filter(title="Night Train").count() == 1


def test_the_admin_s_trailer_search_ignores_case_in_every_script(staff_client, make_trailer):
    make_trailer(title="Amélie")
    make_trailer(title="Other")
    html = staff_client.get("/admin/trailers/trailer/", {"q": "AMÉLIE"}).content.decode()
    assert "Amélie" in html and "Other" not in html


@pytest.mark.parametrize("model", ["trailers/trailer", "trailers/subclip", "trailers/rating", "trailers/prediction",
                                   "trailers/trainingrun", "auth/user"])
def test_a_search_of_a_thousand_words_is_cut_and_says_so(staff_client, make_trailer, model):
    # Django's search makes a condition per word and field: on SQLite a thousand words were a 500.
    make_trailer(title="Night Harbor")
    response = staff_client.get(f"/admin/{model}/", {"q": " ".join(["night"] * 1000)})
    assert response.status_code == 200
    page = response.content.decode()
    assert "The search was cut to" in page and "it reads at most 20 words and 200 characters" in page


def test_a_short_search_is_as_typed(staff_client, make_trailer):
    make_trailer(title="Night Harbor")
    make_trailer(title="Day Harbor")
    page = staff_client.get("/admin/trailers/trailer/", {"q": '"night harbor"'}).content.decode()
    assert _titles(page) == ["Night Harbor"] and "The search was cut" not in page
