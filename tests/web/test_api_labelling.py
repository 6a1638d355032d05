"""The API's labelling operations: rate next and why, the raters, ratings CSV out and in, own uploads."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from trailers.models import ExcludedRater, Trailer
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


def test_rate_next_by_uncertainty_with_the_reason(api, user, make_trailer, make_version, make_prediction):
    version = make_version(number=2, active=True, ensemble=5)
    calm, unsure = make_trailer(title="Calm"), make_trailer(title="Unsure")
    make_prediction(version, calm, 5.0, uncertainty=0.2)
    make_prediction(version, unsure, 6.1, uncertainty=1.8)
    body = api.get("/api/rate-next/?order=uncertain").json()
    assert body["trailer"]["title"] == "Unsure" and body["order"] == "uncertain" and body["remaining"] == 2
    assert body["reason"].startswith("The model's guess is 6.1, its fold models disagreeing by ± 1.8") and body["fallback"] == ""
    assert api.get(f"/api/rate-next/?order=uncertain&skip={unsure.pk}").json()["trailer"]["title"] == "Calm"
    assert api.get("/api/rate-next/").json()["order"] == "fewest"  # the default
    body = api.get("/api/rate-next/?order=fewest").json()
    assert body["trailer"]["title"] == "Calm" and body["reason"].startswith("It has 0 ratings")
    assert api.get("/api/rate-next/?order=best").status_code == 400
    assert api.get("/api/rate-next/?skip=a,b").status_code == 400
    rate_trailer(user=user, trailer=calm, score=3)
    rate_trailer(user=user, trailer=unsure, score=3)
    assert api.get("/api/rate-next/").json()["trailer"] is None


def test_raters_exclusion_export_and_import(api, staff_api, user, other_user, make_trailer):
    trailers = [make_trailer() for _ in range(3)]
    for trailer, (a, b) in zip(trailers, [(2, 3), (5, 6), (8, 8)], strict=True):
        rate_trailer(user=user, trailer=trailer, score=a)
        rate_trailer(user=other_user, trailer=trailer, score=b)
    assert api.get("/api/raters/").status_code == 403
    body = staff_api.get("/api/raters/").json()
    assert body["multiply_rated"] == 3 and 0.8 < body["alpha"] <= 1
    alice = next(r for r in body["raters"] if r["username"] == "alice")
    assert alice["ratings"] == 3 and alice["bias"] == pytest.approx(-2 / 3) and alice["excluded"] is False

    assert api.put(f"/api/raters/{other_user.pk}/exclusion/", {}).status_code == 403
    response = staff_api.put(f"/api/raters/{other_user.pk}/exclusion/", {"reason": "test"}, format="json")
    assert response.json() == {"username": "bob", "excluded": True, "changed": True}
    assert ExcludedRater.objects.get().reason == "test"
    # Refused whole, naming the field, and the reason kept: too long, not text, a field it does not take, no object.
    for body, field in (({"reason": "r" * 256}, "reason"), ({"reason": ["spam", "bot"]}, "reason"),
                        ({"reason": "x", "bogus": 1}, "bogus"), ([1], "non_field_errors")):
        refused = staff_api.put(f"/api/raters/{other_user.pk}/exclusion/", body, format="json")
        assert refused.status_code == 400 and field in refused.json(), (body, refused.json())
    assert ExcludedRater.objects.get().reason == "test"
    assert staff_api.put(f"/api/raters/{other_user.pk}/exclusion/", {}, format="json").json()["changed"] is False
    again = staff_api.put(f"/api/raters/{other_user.pk}/exclusion/", {"reason": " rates everything 10 "}, format="json")
    assert again.json()["changed"] is True and ExcludedRater.objects.get().reason == "rates everything 10"
    assert staff_api.delete(f"/api/raters/{other_user.pk}/exclusion/").json()["changed"] is True

    exported = staff_api.get("/api/ratings/export/", HTTP_ACCEPT="text/csv")  # what the schema says it answers
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    assert api.get("/api/ratings/export/", HTTP_ACCEPT="text/csv").json()["code"] == "permission_denied"
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert len(rows) == 6 and {r["username"] for r in rows} == {"alice", "bob"}
    text = f"username,score,trailer_id\nalice,9,{trailers[0].pk}\nzed,3,{trailers[0].pk}\n"
    assert api.post("/api/ratings/import/", {"file": SimpleUploadedFile("r.csv", text.encode())},
                    format="multipart").status_code == 403
    report = staff_api.post("/api/ratings/import/", {"file": SimpleUploadedFile("r.csv", text.encode())},
                            format="multipart").json()
    assert report == {"created": 0, "changed": 1, "unchanged": 0,
                      "refused": [{"line": 3, "reason": "no account is called 'zed'"}]}
    bad = staff_api.post("/api/ratings/import/", {"file": SimpleUploadedFile("r.csv", b"\xff\xfe")},
                         format="multipart")
    assert bad.status_code == 400 and "not UTF-8" in bad.json()["file"][0]
    # A field it does not take, or two files, are refused naming them, and nothing is imported.
    extra = staff_api.post("/api/ratings/import/", {"file": SimpleUploadedFile("r.csv", text.encode()),
                                                    "mode": "replace"}, format="multipart")
    assert extra.status_code == 400 and extra.json() == {"mode": ["Unknown field."]}
    form = staff_api.post("/api/ratings/import/", {"file": SimpleUploadedFile("r.csv", text.encode()),
                                                   "csrfmiddlewaretoken": "x"}, format="multipart")
    assert form.status_code == 200  # what the browsable API's form posts beside the file is no unknown field
    two = staff_api.post("/api/ratings/import/", {"file": [SimpleUploadedFile("a.csv", text.encode()),
                                                           SimpleUploadedFile("b.csv", text.encode())]},
                         format="multipart")
    assert two.status_code == 400 and two.json() == {"file": ["Send one CSV in “file”, not 2."]}


def test_own_uploads_rename_delete_retry(api, user, other_user, make_trailer):
    mine = make_trailer(title="Mine", uploaded_by=user, status=Trailer.Status.FAILED, subclips=0, error="x")
    theirs = make_trailer(title="Theirs", uploaded_by=other_user)
    body = api.patch(f"/api/trailers/{mine.pk}/", {"title": "Mine, renamed"}, format="json").json()
    assert body["title"] == "Mine, renamed"
    assert api.patch(f"/api/trailers/{mine.pk}/", {"title": ""}, format="json").json() == {
        "title": ["A title cannot be empty."]}
    for body, refused in [({"title": "Mine, again", "bogus": 1}, {"bogus": ["Unknown field."]}),
                          ({"reference_score": 9}, {"reference_score": ["Unknown field."]}),
                          ({}, {"title": ["Send the new title as text in “title”."]}),
                          ({"title": "   "}, {"title": ["A title cannot be empty."]}),
                          ({"title": "x" * 256}, {"title": ["A title is at most 255 characters."]}),
                          ({"title": 123}, {"title": ["Send the new title as text in “title”."]}),
                          ({"title": True}, {"title": ["Send the new title as text in “title”."]}),
                          ({"title": ["a"]}, {"title": ["Send the new title as text in “title”."]})]:
        response = api.patch(f"/api/trailers/{mine.pk}/", body, format="json")
        assert (response.status_code, response.json()) == (400, refused), body
    assert Trailer.objects.get(pk=mine.pk).title == "Mine, renamed"  # nothing changed by a refused body
    assert api.patch(f"/api/trailers/{theirs.pk}/", {"title": "x"}, format="json").status_code == 403
    assert api.post(f"/api/trailers/{mine.pk}/retry/").json()["status"] == "queued"
    again = api.post(f"/api/trailers/{mine.pk}/retry/")
    assert again.status_code == 409 and "has not failed" in again.json()["detail"]
    assert again.json()["code"] == "not_failed"  # every refusal carries its code
    assert api.delete(f"/api/trailers/{theirs.pk}/").status_code == 403
    Trailer.objects.filter(pk=mine.pk).update(status=Trailer.Status.PROCESSING)
    assert api.delete(f"/api/trailers/{mine.pk}/").status_code == 409
    Trailer.objects.filter(pk=mine.pk).update(status=Trailer.Status.FAILED)
    assert api.delete(f"/api/trailers/{mine.pk}/").status_code == 204
    assert list(Trailer.objects.values_list("title", flat=True)) == ["Theirs"]
    user.user_permissions.add(Permission.objects.get(codename="delete_trailer"))
    api.force_authenticate(type(user).objects.get(pk=user.pk))  # a fresh copy: permissions are cached per object
    assert api.delete(f"/api/trailers/{theirs.pk}/").status_code == 204
