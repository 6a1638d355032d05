"""The admin's own views and actions write the object's history, as its forms do: who did what, and when."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType

from tests.support.run_options import TINY_RUN, run_form_data
from trailers.models import ModelVersion, Trailer, TrainingRun

pytestmark = pytest.mark.django_db


def history(obj) -> list[tuple[int, str, str]]:
    """(action flag, message, who) of each entry in ``obj``'s admin history, oldest first."""
    entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))
    return [(e.action_flag, e.get_change_message(), e.user.username) for e in entries.order_by("action_time", "pk")]


def test_cancelling_a_run_from_its_admin_page_is_in_its_history(staff_client, make_run):
    run = make_run(status=TrainingRun.Status.RUNNING)
    staff_client.post(f"/admin/trailers/trainingrun/{run.pk}/cancel/")
    assert history(run) == [(CHANGE, "Cancel requested.", "staff")]
    html = staff_client.get(f"/admin/trailers/trainingrun/{run.pk}/history/").content.decode()
    assert "Cancel requested." in html


def test_the_cancel_action_records_each_run_it_cancelled(staff_client, make_run):
    queued = make_run(status=TrainingRun.Status.QUEUED, metrics=[], started_at=None)
    finished = make_run(status=TrainingRun.Status.SUCCEEDED)
    staff_client.post("/admin/trailers/trainingrun/", {"action": "cancel_runs",
                                                       "_selected_action": [queued.pk, finished.pk]})
    assert history(queued) == [(CHANGE, "Cancelled.", "staff")]
    assert history(finished) == []  # a finished run is left alone, and so is its history


def test_a_run_started_from_the_admin_is_recorded_as_added(staff_client):
    staff_client.post("/admin/trailers/trainingrun/add/", run_form_data("default", **TINY_RUN))
    run = TrainingRun.objects.get()
    assert history(run) == [(ADDITION, f"Started from the admin (options: {run.preset or 'custom'}).", "staff")]


def test_activating_and_scoring_a_version_are_in_its_history(staff_client, make_version):
    version = make_version(number=1)
    staff_client.post("/admin/trailers/modelversion/", {"action": "activate", "_selected_action": [version.pk]})
    assert ModelVersion.objects.get(pk=version.pk).is_active
    staff_client.post("/admin/trailers/modelversion/", {"action": "score_all", "_selected_action": [version.pk]})
    assert history(version) == [(CHANGE, "Activated.", "staff"), (CHANGE, "Queued to score every ready trailer.", "staff")]


def test_trailer_actions_record_each_trailer_they_queued(staff_client, make_trailer, make_version):
    ready, busy = make_trailer(title="ready"), make_trailer(title="busy")
    Trailer.objects.filter(pk=busy.pk).update(status=Trailer.Status.PROCESSING)
    staff_client.post("/admin/trailers/trailer/", {"action": "preprocess_again", "_selected_action": [ready.pk, busy.pk]})
    assert history(ready) == [(CHANGE, "Queued to be preprocessed again.", "staff")]
    assert history(busy) == []  # skipped: it was being processed
    active = make_version(number=3, active=True)
    staff_client.post("/admin/trailers/trailer/", {"action": "score_with_active_version",
                                                   "_selected_action": [busy.pk]})
    assert history(busy) == [(CHANGE, f"Queued to be scored with {active}.", "staff")]
