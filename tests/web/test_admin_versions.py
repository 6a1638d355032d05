"""The admin: versions listed with their estimate, activation that reports the fair comparison, and a run's
cross-validation shown read-only."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support.rows import create_cv_run, cross_validation_estimate, cv_version_metrics
from trailers.models import ModelVersion

pytestmark = pytest.mark.django_db

LABELS = [3.0, 5.0, 7.0, 9.0]


@pytest.fixture
def four(make_trailer):
    return [make_trailer(title=f"Admin {i}") for i in range(4)]


def _messages(html: str) -> list[str]:
    items = re.findall(r'<ul class="messagelist">(.*?)</ul>', html, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in re.findall(r"<li[^>]*>(.*?)</li>", "".join(items), re.S)]


def _cv_version(four, number, held_out_delta, **metrics):
    held_out = {t.pk: label + held_out_delta for t, label in zip(four, LABELS, strict=True)}
    run = create_cv_run(four, LABELS, folds=2,
                        cross_validation=cross_validation_estimate(four, folds=2, predictions=held_out))
    from tests.support.rows import create_version

    return create_version(number=number, run=run, **cv_version_metrics(folds=2, trailers=4, **metrics))


def test_the_version_list_shows_the_cross_validated_mae_and_the_estimate(staff_client, four, make_version):
    make_version(number=1)  # an older version: a validation split
    _cv_version(four, 2, 0.25)
    html = staff_client.get("/admin/trailers/modelversion/").content.decode()
    assert "MAE (held-out)" in html and "0.612 ± 0.041" in html and "cross-validated, 2 folds" in html
    assert "1.500" in html and "validation split (flatters the model)" in html


def test_activating_reports_the_comparison_with_the_version_that_was_active(staff_client, four, make_run,
                                                                             make_version, make_prediction):
    old = make_version(number=1, active=True, run=make_run(dataset=[]))
    for trailer, label in zip(four, LABELS, strict=True):
        make_prediction(old, trailer, label + 1.0)
    better = _cv_version(four, 2, 0.25)
    response = staff_client.post("/admin/trailers/modelversion/", {"action": "activate",
                                                                   "_selected_action": [better.pk]}, follow=True)
    messages = _messages(response.content.decode())
    assert "Model version v2 is now active; scoring every ready trailer with it." in messages
    assert ("Compared with v1, the version that was active: better on the same 4 held-out trailers, MAE 0.250 "
            "against v1's 1.000.") in messages
    assert list(ModelVersion.objects.filter(is_active=True)) == [better]

    worse = _cv_version(four, 3, 2.0)
    response = staff_client.post("/admin/trailers/modelversion/", {"action": "activate",
                                                                   "_selected_action": [worse.pk]})
    html = unescape(response.content.decode())
    assert response.status_code == 409 and "Activate v3 all the same?" in html  # it asks again, as the page does
    assert ("v3 is not better on the same 4 held-out trailers, MAE 2.000 against v2's 0.250 (against its run's mean "
            "user ratings)") in html
    assert list(ModelVersion.objects.filter(is_active=True)) == [better]
    back = "/admin/trailers/modelversion/"
    assert f'action="/versions/{worse.pk}/activate/"' in html and f'name="next" value="{back}"' in html
    response = staff_client.post(f"/versions/{worse.pk}/activate/", {"confirm": "1", "next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    assert list(ModelVersion.objects.filter(is_active=True)) == [worse]
    assert any(m.startswith("Model version v3 is now active (not better on the same 4") for m in
               _messages(response.content.decode()))


def test_activating_the_active_version_changes_nothing(staff_client, four, django_capture_on_commit_callbacks):
    """The admin, the version page and the API do the same: the active version stays as it was, scored as it was."""
    version = _cv_version(four, 1, 0.25)
    staff_client.post("/admin/trailers/modelversion/", {"action": "activate", "_selected_action": [version.pk]})
    version.refresh_from_db()
    activated_at = version.activated_at
    ModelVersion.objects.filter(pk=version.pk).update(scored_at=activated_at)  # as if it had scored every trailer
    with django_capture_on_commit_callbacks() as sent:
        response = staff_client.post("/admin/trailers/modelversion/", {"action": "activate",
                                                                       "_selected_action": [version.pk]}, follow=True)
        assert ("Model version v1 is already the active one; nothing changed (\"Score all ready trailers\" scores "
                "them again).") in _messages(response.content.decode())
        response = staff_client.post(f"/versions/{version.pk}/activate/", follow=True)
        assert "Model version v1 is already the active one." in unescape(response.content.decode())
        body = staff_client.post(f"/api/model-versions/{version.pk}/activate/").json()
        assert body["is_active"] and body["comparison"]["reason"] == "already the active version"
    assert sent == []  # no scoring sent again
    version.refresh_from_db()
    assert (version.activated_at, version.scored_at) == (activated_at, activated_at)


def test_activating_with_none_active_says_so(staff_client, four):
    version = _cv_version(four, 1, 0.25)
    response = staff_client.post("/admin/trailers/modelversion/", {"action": "activate",
                                                                   "_selected_action": [version.pk]}, follow=True)
    assert "Compared with the version that was active: no version was active." in _messages(response.content.decode())


def test_the_run_admin_shows_the_cross_validation_read_only(staff_client, four):
    run = create_cv_run(four, LABELS, folds=2)
    html = unescape(staff_client.get(f"/admin/trailers/trainingrun/{run.pk}/change/").content.decode())
    assert "Cross-validation" in html and "4 trailers, cross-validated in 2 folds (each held out once)" in html
    assert "MAE 0.612 ± 0.041, RMSE 0.803 ± 0.052, Spearman 0.547 ± 0.098" in html
    assert "2 folds of 4 trailers; 0 near-duplicate group(s)" in html
    # Not the raw estimate: with every trailer's held-out prediction it grew with the dataset (216 KB at 5,000).
    assert '"duplicate_threshold": 0.97' not in html and '"predictions"' not in html
    assert 'name="cross_validation"' not in html and "/api/runs/<id>/dataset/ give all of it" in html


def test_the_active_version_is_never_deleted_from_the_admin(staff_client, four, make_run, make_version,
                                                             make_prediction):
    """Deleting the active version would delete every prediction the pages show: the delete page and the list's
    delete action refuse it with the way out, and keep it and its predictions; another version deletes."""
    active = make_version(number=1, active=True, run=make_run(dataset=[]))
    for trailer, label in zip(four, LABELS, strict=True):
        make_prediction(active, trailer, label)
    old = make_version(number=2, run=make_run(dataset=[]))
    refusal = ("Model version v1 is active: deleting it would delete the predictions every page shows. Activate "
               "another version first (or roll back), then delete it.")

    change_page = staff_client.get(f"/admin/trailers/modelversion/{active.pk}/change/").content.decode()
    assert f"/admin/trailers/modelversion/{active.pk}/delete/" in change_page  # the button is there: it explains
    for method in (staff_client.get, staff_client.post):
        response = method(f"/admin/trailers/modelversion/{active.pk}/delete/", {"post": "yes"}, follow=True)
        assert response.redirect_chain[-1][0] == f"/admin/trailers/modelversion/{active.pk}/change/"
        assert refusal in _messages(response.content.decode())

    response = staff_client.post("/admin/trailers/modelversion/", {
        "action": "delete_selected", "_selected_action": [active.pk, old.pk], "post": "yes"}, follow=True)
    assert refusal in _messages(response.content.decode())
    assert set(ModelVersion.objects.values_list("number", flat=True)) == {1, 2}
    assert active.predictions.count() == 4
    assert ModelVersion.objects.get(pk=active.pk).is_active

    confirm = staff_client.post("/admin/trailers/modelversion/", {
        "action": "delete_selected", "_selected_action": [old.pk]}).content.decode()
    assert "Are you sure" in confirm
    response = staff_client.post("/admin/trailers/modelversion/", {
        "action": "delete_selected", "_selected_action": [old.pk], "post": "yes"}, follow=True)
    assert "Successfully deleted 1 model version." in _messages(response.content.decode())
    assert list(ModelVersion.objects.values_list("number", flat=True)) == [1]

    other = make_version(number=3, run=make_run(dataset=[]))
    response = staff_client.post(f"/admin/trailers/modelversion/{other.pk}/delete/", {"post": "yes"}, follow=True)
    assert any("was deleted successfully" in m for m in _messages(response.content.decode()))
    assert list(ModelVersion.objects.values_list("number", flat=True)) == [1]


def test_the_service_refuses_deleting_the_active_version_and_deletes_nothing(four, make_run, make_version):
    from trailers.services import ActivationError, delete_model_versions

    active = make_version(number=1, active=True, run=make_run(dataset=[]))
    old = make_version(number=2, run=make_run(dataset=[]))
    with pytest.raises(ActivationError) as refused:
        delete_model_versions(version_ids=[old.pk, active.pk])
    assert refused.value.code == "active_version" and refused.value.status == 409
    assert ModelVersion.objects.count() == 2
    assert delete_model_versions(version_ids=[old.pk]) == 1
    assert list(ModelVersion.objects.values_list("number", flat=True)) == [1]


def test_a_version_s_scoring_times_are_read_only(staff_client, make_version):
    """The sweep and the predictions page read them: an edit by hand would stop or repeat a version's scoring."""
    version = make_version(number=1)
    html = staff_client.get(f"/admin/trailers/modelversion/{version.pk}/change/").content.decode()
    content = html.split('id="content-main"')[1]
    assert not {"scoring_enqueued_at", "scored_at", "scoring_enqueued_at_0", "scored_at_0"} & set(
        re.findall(r'<(?:input|select|textarea)[^>]*name="([^"]+)"', content))
