"""The dataset page: every trailer with its numbers, filters, search, sorting, pagination in constant queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from trailers.models import Prediction, Trailer
from trailers.services import rate_trailer, save_ratings

pytestmark = pytest.mark.django_db


def rows(response) -> list[str]:
    """Titles of the table's rows, in order."""
    html = response.content.decode()
    return re.findall(r'<tr data-trailer="\d+">.*?<a href="/trailers/\d+/" dir="auto">([^<]+)</a>', html, flags=re.S)


def test_shows_each_trailers_numbers(user_client, user, other_user, make_trailer, make_version, make_prediction):
    trailer = make_trailer(title="Night Train", reference_score=6.5)
    rate_trailer(user=user, trailer=trailer, score=8)
    rate_trailer(user=other_user, trailer=trailer, score=5)
    version = make_version(number=1, active=True)
    make_prediction(version, trailer, 7.25)
    make_trailer(title="Still Queued", status=Trailer.Status.QUEUED, subclips=0)

    response = user_client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    row = re.search(rf'<tr data-trailer="{trailer.pk}">(.*?)</tr>', html, flags=re.S).group(1)
    assert "Night Train" in row and f'/trailers/{trailer.pk}/thumbnail.jpg' in row
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
    # thumbnail, title, status, duration, mean, count, yours, reference, predicted, uploaded
    assert cells[1:9] == ["Night Train", "Ready", "0:04.0", "6.50", "2", "8", "6.5", "7.25"]
    assert "Queued" in html and "v1" in html


def test_filters_and_search(user_client, user, make_trailer, make_version, make_prediction):
    rated = make_trailer(title="Alpha rated")
    unrated = make_trailer(title="Beta unrated")
    failed = make_trailer(title="Gamma failed", status=Trailer.Status.FAILED, subclips=0)
    rate_trailer(user=user, trailer=rated, score=3)
    make_prediction(make_version(number=1, active=True), unrated, 5.0)
    make_prediction(make_version(number=2, active=False), rated, 5.0)  # not the active version: does not count

    assert rows(user_client.get("/?rated=yes")) == ["Alpha rated"]
    assert set(rows(user_client.get("/?rated=no"))) == {"Beta unrated", "Gamma failed"}
    assert rows(user_client.get("/?predicted=yes")) == ["Beta unrated"]
    assert rows(user_client.get("/?status=failed")) == ["Gamma failed"]
    assert rows(user_client.get("/?q=beta")) == ["Beta unrated"]
    assert failed.pk  # and a filter matching nothing says so
    assert "No trailers match these filters." in user_client.get("/?q=zzz").content.decode()


def test_unknown_filter_values_are_ignored_not_an_error(user_client, make_trailer):
    make_trailer(title="Only")
    response = user_client.get("/?status=bogus&sort=nonsense&page=abc&rated=maybe")
    assert response.status_code == 200
    assert rows(response) == ["Only"]


def test_sorting(user_client, user, other_user, make_trailer):
    low, high, none = make_trailer(title="Low"), make_trailer(title="High"), make_trailer(title="None")
    rate_trailer(user=other_user, trailer=low, score=2)
    rate_trailer(user=other_user, trailer=high, score=9)
    assert rows(user_client.get("/?sort=-mean")) == ["High", "Low", "None"]  # no ratings last either way
    assert rows(user_client.get("/?sort=mean")) == ["Low", "High", "None"]
    assert rows(user_client.get("/?sort=title")) == ["High", "Low", "None"]
    html = user_client.get("/?sort=title").content.decode()
    assert 'href="?sort=-title"' in html  # the active column's header flips the direction
    assert none.pk


def _many_trailers(n: int, users, version, start: int = 0) -> None:
    now = timezone.now()
    trailers = Trailer.objects.bulk_create(
        Trailer(title=f"Bulk {i:05d}", original_name=f"b{i}.mp4", file=f"trailers/b{i}.mp4", sha256=f"{i:064x}",
                status=Trailer.Status.READY, duration=30.0, uploaded_at=now)
        for i in range(start, start + n)
    )
    save_ratings(ratings=[(u.pk, t.pk, 1 + (t.pk + k) % 10) for t in trailers for k, u in enumerate(users)])
    Prediction.objects.bulk_create(Prediction(model_version=version, trailer=t, score=5.0, subclip_scores=[5.0])
                                   for t in trailers)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_queries_per_page_do_not_grow_with_the_dataset(user_client, user, other_user, make_version):
    version = make_version(number=1, active=True)
    _many_trailers(30, [user, other_user], version)
    small = _queries(user_client, "/")
    small_filtered = _queries(user_client, "/?rated=yes&predicted=yes&sort=-mean&q=Bulk")
    _many_trailers(300, [user, other_user], version, start=30)
    assert Trailer.objects.count() == 330
    large = _queries(user_client, "/")
    assert large == small, f"{small} queries with 30 trailers, {large} with 330"
    assert _queries(user_client, "/?rated=yes&predicted=yes&sort=-mean&q=Bulk") == small_filtered
    assert _queries(user_client, "/?page=5") == small
    assert large <= 8  # session, user, the page's rows, their count, the active version


def test_pagination(user_client, make_version, user):
    _many_trailers(120, [user], make_version(number=1, active=True))
    first = user_client.get("/")
    assert len(rows(first)) == 50 and "page 1 of 3" in first.content.decode()
    last = user_client.get("/?page=3&sort=title")
    assert rows(last)[-1] == "Bulk 00119" and len(rows(last)) == 20
    assert 'href="?sort=title&amp;page=2"' in last.content.decode()  # the links keep the filters
    # As the API reads them: "last" is the last page; a number under 1 the first (it showed the last).
    assert rows(user_client.get("/?page=last&sort=title")) == rows(last)
    for before_the_first in ("0", "-1"):
        page = user_client.get(f"/?page={before_the_first}&sort=title")
        assert rows(page)[0] == "Bulk 00000" and "page 1 of 3" in page.content.decode()


def test_needs_login(client):
    assert client.get("/").status_code == 302


def test_a_search_too_long_to_read_is_not_carried_into_the_pages_links(user_client, make_trailer):
    for i in range(60):  # two pages
        make_trailer(title=f"T{i:02d}")
    huge = "ab" * 5000
    html = user_client.get("/", {"q": huge, "sort": "title"}).content.decode()
    assert huge not in html.split("</form>", 1)[-1]  # not in the sort links or the pages' links
    assert "sort=title" in html and "page=2" in html


def test_the_sorted_column_says_so_to_a_screen_reader(user_client, make_trailer):
    make_trailer(title="A")
    html = user_client.get("/", {"sort": "title"}).content.decode()
    assert html.count("aria-sort=") == 1 and '<th aria-sort="ascending">' in html
    html = user_client.get("/", {"sort": "-title"}).content.decode()
    assert '<th aria-sort="descending">' in html
    html = user_client.get("/").content.decode()  # newest first: the uploaded column, descending
    assert html.count('aria-sort="descending"') == 1
