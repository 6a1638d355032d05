"""The API's runs and versions: list filters, notes, compare runs, activation that refuses a worse version until
confirmed, rollback, two versions compared trailer by trailer."""

from __future__ import annotations

import pytest

from tests.web.test_runs_compare_versions import two_versions  # noqa: F401 - the fixture
from trailers.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db


def test_runs_list_filters_and_sorts(api, make_run, make_version):
    good, bad = make_run(preset="default"), make_run(preset="scratch")
    make_version(number=1, run=good, val_mae=0.5)
    make_version(number=2, run=bad, val_mae=1.5)
    ids = [r["id"] for r in api.get("/api/runs/?sort=mae").json()["results"]]
    assert ids == [good.pk, bad.pk]
    assert [r["id"] for r in api.get("/api/runs/?preset=scratch").json()["results"]] == [bad.pk]
    assert api.get("/api/runs/?status=nonsense").status_code == 400


def test_note_and_compare_runs(api, staff_api, make_run):
    a, b = make_run(train_config={"epochs": 3, "lr": 0.01}), make_run(train_config={"epochs": 3, "lr": 0.001})
    assert api.patch(f"/api/runs/{a.pk}/", {"note": "x"}, format="json").status_code == 403
    assert staff_api.patch(f"/api/runs/{a.pk}/", {"note": " first try "}, format="json").status_code == 200
    assert TrainingRun.objects.get(pk=a.pk).note == "first try"
    assert api.get(f"/api/runs/{a.pk}/").json()["note"] == "first try"  # read back where it was written
    assert {r["id"]: r["note"] for r in api.get("/api/runs/").json()["results"]} == {a.pk: "first try", b.pk: ""}
    body = api.get(f"/api/runs/compare/?runs={a.pk},{b.pk}").json()
    assert [r["id"] for r in body["runs"]] == [a.pk, b.pk] and body["runs"][0]["note"] == "first try"
    assert body["differing"] == [{"group": "Training", "option": "lr", "values": [0.01, 0.001]}]
    assert len(body["runs"][0]["history"]) == 3
    assert api.get(f"/api/runs/compare/?runs={a.pk}").status_code == 400
    assert api.get("/api/runs/compare/?runs=999998,999999").status_code == 404


def test_a_worse_version_is_refused_until_confirmed_then_rolled_back(staff_api, two_versions):  # noqa: F811
    v1, v2, _ = two_versions
    refused = staff_api.post(f"/api/model-versions/{v2.pk}/activate/")
    assert refused.status_code == 409
    body = refused.json()
    assert body["comparison"]["decision"] == "keep" and body["comparison"]["trailers"] == 6
    assert "nothing was activated. Ask again with ?confirm=true" in body["detail"] and body["code"] == "worse_than_active"
    assert ModelVersion.objects.get(is_active=True) == v1
    assert staff_api.post(f"/api/model-versions/{v2.pk}/activate/", {"bogus": 1}, format="json").status_code == 400
    done = staff_api.post(f"/api/model-versions/{v2.pk}/activate/", {"confirm": True}, format="json")  # or ?confirm
    assert done.status_code == 200 and done.json()["is_active"]
    assert staff_api.post("/api/model-versions/rollback/", {"version": v1.pk}, format="json").json() == {
        "version": ["Unknown field."]}  # refused, not ignored
    back = staff_api.post("/api/model-versions/rollback/", {"from_version": v2.pk}, format="json")
    assert back.status_code == 200 and back.json()["number"] == 1
    assert ModelVersion.objects.get(is_active=True) == v1
    again = staff_api.post("/api/model-versions/rollback/", {"from_version": v2.pk}, format="json")  # a retry
    assert again.status_code == 409 and again.json()["code"] == "not_active"
    assert f"(v1 (id {v1.pk}) is)" in again.json()["detail"]
    assert ModelVersion.objects.get(is_active=True) == v1  # not rolled back to v2


def test_operations_that_take_no_body_refuse_one(staff_api, make_trailer, make_run, staff_user):
    trailer, run = make_trailer(uploaded_by=staff_user), make_run()
    for method, url in (("post", f"/api/runs/{run.pk}/cancel/"), ("post", f"/api/trailers/{trailer.pk}/retry/"),
                        ("delete", f"/api/trailers/{trailer.pk}/rating/"), ("delete", f"/api/trailers/{trailer.pk}/"),
                        ("delete", f"/api/raters/{staff_user.pk}/exclusion/")):
        answer = getattr(staff_api, method)(url, {"bogus": True}, format="json")
        assert (answer.status_code, answer.json()) == (400, {"bogus": ["Unknown field."]}), url
    assert TrainingRun.objects.get(pk=run.pk).status == run.status and trailer.__class__.objects.filter(
        pk=trailer.pk).exists()


def test_versions_compared_trailer_by_trailer(api, two_versions):  # noqa: F811
    v1, v2, trailers = two_versions
    body = api.get(f"/api/model-versions/compare/?a={v1.pk}&b={v2.pk}").json()
    assert (body["a"], body["b"], body["trailers"], body["rated"]) == (1, 2, 6, 6)
    assert (body["a_id"], body["b_id"]) == (v1.pk, v2.pk)  # numbers name versions to people, ids to the API
    assert body["biggest_changes"][0]["trailer"] == trailers[2].pk
    assert body["held_out"]["trailers"] == 6
    assert api.get(f"/api/model-versions/compare/?a={v1.pk}&b={v1.pk}").json()["biggest_changes"][0]["change"] == 0
    refused = api.get("/api/model-versions/compare/?a=x&b=1")
    assert (refused.status_code, refused.json()) == (400, {"detail": "Give two version ids, a and b.",
                                                           "code": "versions_missing"})  # the shape of every error


def test_a_finished_run_that_made_no_version_is_deleted_with_all_it_kept_and_others_are_refused(
        api, staff_api, make_run, make_version, client, staff_user, django_capture_on_commit_callbacks):
    from trailers.services.versions import delete_model_versions

    failed, cancelled = make_run(status=TrainingRun.Status.FAILED), make_run(status=TrainingRun.Status.CANCELLED)
    running, made = make_run(status=TrainingRun.Status.RUNNING), make_run()
    version = make_version(number=4, run=made)
    TrainingRun.objects.filter(pk=made.pk).update(version_number=4)  # as the run that made it records it
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    stray = default_storage.save(f"models/run-{failed.pk}-deadbeef.pt", ContentFile(b"a killed attempt's"))
    assert api.delete(f"/api/runs/{failed.pk}/").status_code == 403  # needs trailers.delete_trainingrun
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_api.delete(f"/api/runs/{failed.pk}/").status_code == 204
    assert not default_storage.exists(stray)  # with all it kept
    refused = staff_api.delete(f"/api/runs/{running.pk}/")
    assert (refused.status_code, refused.json()["code"]) == (409, "not_finished")
    delete_model_versions(version_ids=[version.pk])
    refused = staff_api.delete(f"/api/runs/{made.pk}/")  # its version deleted, it stays as the record of "v4"
    assert (refused.status_code, refused.json()["code"]) == (409, "made_version") and "(v4)" in refused.json()["detail"]
    assert set(TrainingRun.objects.values_list("pk", flat=True)) == {cancelled.pk, running.pk, made.pk}
    # The admin: its list action deletes what may go, and names what may not, deleting none of a mixed choice.
    client.force_login(staff_user)
    changelist = "/admin/trailers/trainingrun/"
    answer = client.post(changelist, {"action": "delete_selected", "_selected_action": [cancelled.pk, made.pk]},
                         follow=True)
    assert "made a model version (v4)" in answer.content.decode()
    assert TrainingRun.objects.filter(pk=cancelled.pk).exists()
    client.post(changelist, {"action": "delete_selected", "_selected_action": [cancelled.pk], "post": "yes"})
    assert not TrainingRun.objects.filter(pk=cancelled.pk).exists()
