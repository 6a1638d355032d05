"""The raters page: counts, means, bias, agreement; leaving a rater out of user_mean labels; ratings CSV out and in."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from ml.agreement import krippendorff_alpha
from trailers.models import ExcludedRater, Rating
from trailers.services import rate_trailer
from trailers.services.training import labelled_trailers

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(user, other_user, staff_user, make_trailer):
    """alice and bob agree; staff rates everything 3 points higher."""
    trailers = [make_trailer(title=f"T{i}") for i in range(4)]
    scores = {user: [2, 4, 6, 8], other_user: [3, 4, 7, 8], staff_user: [5, 7, 9, 10]}
    for person, values in scores.items():
        for trailer, score in zip(trailers, values, strict=True):
            rate_trailer(user=person, trailer=trailer, score=score)
    return trailers, scores


def row(html: str, name: str) -> list[str]:
    match = re.search(rf'<tr data-rater="{name}"[^>]*>(.*?)</tr>', html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1),
                                                                           flags=re.S)]


def test_staff_see_each_rater_with_count_mean_bias_and_the_agreement(staff_client, rated):
    _, scores = rated
    html = unescape(staff_client.get("/raters/").content.decode())
    table = {u.username: s for u, s in scores.items()}
    alpha = krippendorff_alpha({name: dict(enumerate(values)) for name, values in table.items()})
    assert f'α = {alpha:.3f}' in html
    staff = row(html, "staff")
    # Each of its scores against the mean of the other two: 5 - 2.5, 7 - 4, 9 - 6.5, 10 - 8.
    assert staff[:4] == ["staff", "4", "7.75", "+2.50"]
    alice = row(html, "alice")
    assert alice[:4] == ["alice", "4", "5.00", f"{((2 - 4) + (4 - 5.5) + (6 - 8) + (8 - 9)) / 4:.2f}"]
    assert "on the 4 trailers rated by two people or more" in html


def test_leaving_a_rater_out_changes_the_labels_of_new_runs_not_the_pages(staff_client, staff_user, rated):
    trailers, _ = rated
    before = labelled_trailers(label_source="user_mean", min_ratings=3)
    assert before[trailers[0].pk] == pytest.approx((2 + 3 + 5) / 3)
    response = staff_client.post(f"/raters/{staff_user.pk}/exclusion/", {"exclude": "1", "reason": "rates high"},
                                 follow=True)
    html = unescape(response.content.decode())
    assert "staff's ratings are left out of the labels of runs started from now on" in html
    assert "left out" in row(html, "staff")[-1] and "rates high" in row(html, "staff")[-1]
    assert "without the raters left out" in html
    after = labelled_trailers(label_source="user_mean", min_ratings=1)
    assert after[trailers[0].pk] == pytest.approx(2.5)  # alice 2 and bob 3
    assert labelled_trailers(label_source="user_mean", min_ratings=3) == {}  # only two ratings count now
    assert Rating.objects.filter(user=staff_user).count() == 4  # kept
    # Sent again from a page still showing the form, with its reason left blank: the reason kept stays.
    again = staff_client.post(f"/raters/{staff_user.pk}/exclusion/", {"exclude": "1", "reason": ""}, follow=True)
    assert "staff was already left out." in unescape(again.content.decode())
    assert ExcludedRater.objects.get().reason == "rates high"
    staff_client.post(f"/raters/{staff_user.pk}/exclusion/", {"exclude": "0"})
    assert not ExcludedRater.objects.exists()
    assert labelled_trailers(label_source="user_mean", min_ratings=3) == before


def test_ratings_export_and_import_with_a_report_of_refusals(staff_client, user, rated, make_trailer):
    trailers, _ = rated
    response = staff_client.get("/raters/ratings.csv")
    exported = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(exported) == 12 and set(exported[0]) == {"trailer_id", "sha256", "title", "username", "score",
                                                         "updated_at"}
    assert {r["sha256"] for r in exported} == {t.sha256 for t in trailers}
    new = make_trailer(title="New one")
    text = ("username,score,sha256,trailer_id\n"
            f"alice,7,{new.sha256},\n"              # new, found by its file
            f"alice,9,,{trailers[0].pk}\n"          # changed (was 2), found by id
            f"bob,3,,{trailers[0].pk}\n"            # unchanged
            f"nobody,5,,{new.pk}\n"                 # unknown person
            f"bob,5,{'0' * 64},\n"                  # unknown file
            f"bob,11,,{new.pk}\n"                   # not a rating
            f"alice,3,{new.sha256},\n")             # the same person and trailer twice
    response = staff_client.post("/raters/import/", {"file": SimpleUploadedFile("r.csv", text.encode())})
    html = unescape(response.content.decode())
    assert "1 new rating, 1 changed, 1 unchanged, 4 rows refused" in html
    refused = re.findall(r'<tr><td class="num">(\d+)</td><td>(.*?)</td></tr>', html)
    assert refused == [
        ("5", "no account is called 'nobody'"), ("6", f"no trailer has the sha256 {'0' * 12}…"),
        ("7", "A rating is a whole number from 1 to 10; 11 is outside that range."),
        ("8", "alice rated this trailer on line 2 already"),
    ]
    assert Rating.objects.get(user=user, trailer=new).score == 7
    assert Rating.objects.get(user=user, trailer=trailers[0]).score == 9


def test_an_export_quotes_formulas_for_spreadsheets_and_imports_back_unchanged(staff_client, staff_api,
                                                                               django_user_model, make_trailer):
    """Page and API export the same rows; a title or name a spreadsheet would run as a formula is quoted, and the
    file imports back as it was exported (nothing refused, nothing changed)."""
    trailer = make_trailer(title="=HYPERLINK(1)")
    person = django_user_model.objects.create_user("-minus", password="x")
    rate_trailer(user=person, trailer=trailer, score=6)
    page = b"".join(staff_client.get("/raters/ratings.csv").streaming_content)
    api = b"".join(staff_api.get("/api/ratings/export/").streaming_content)
    assert page == api
    (row,) = csv.DictReader(io.StringIO(page.decode()))
    assert row["title"] == "'=HYPERLINK(1)" and row["username"] == "'-minus" and row["score"] == "6"
    response = staff_client.post("/raters/import/", {"file": SimpleUploadedFile("back.csv", page)})
    assert "0 new ratings, 0 changed, 1 unchanged" in unescape(response.content.decode())
    assert Rating.objects.get(user=person, trailer=trailer).score == 6


def test_a_file_that_is_no_ratings_csv_is_refused_whole(staff_client, rated):
    response = staff_client.post("/raters/import/", {"file": SimpleUploadedFile("x.csv", b"title,rating\na,1\n")},
                                 follow=True)
    assert ("x.csv was not imported: A ratings CSV needs the columns username, score and trailer_id or sha256; this "
            "one has rating, title.") in unescape(response.content.decode())


def test_who_may_see_leave_out_and_import(user_client, client, user, other_user, rated):
    assert user_client.get("/raters/").status_code == 403
    assert user_client.get("/raters/ratings.csv").status_code == 403
    assert user_client.post(f"/raters/{other_user.pk}/exclusion/", {"exclude": "1"}).status_code == 403
    assert 'href="/raters/"' not in user_client.get("/").content.decode()
    user.user_permissions.add(Permission.objects.get(codename="view_rating"))
    html = user_client.get("/raters/").content.decode()
    assert 'id="raters-table"' in html and "Leave out of labels" not in html and 'id="ratings-import"' not in html
    assert user_client.post(f"/raters/{other_user.pk}/exclusion/", {"exclude": "1"}).status_code == 403
    assert user_client.post("/raters/import/", {}).status_code == 403
