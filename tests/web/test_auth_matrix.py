"""One rule for who may start, cancel and activate (trailers/permissions.py: Django's model permissions),
checked by every way in: the API, the pages and the admin. Each cell asks as one role and looks at what
happened (a run made, a run asked to stop, a version active), not only at the status code."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from trailers.models import ModelVersion, TrainingRun

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "user", "other_user", "view_only_staff", "granted_user", "granted_staff", "full_staff"]
# Who may: anyone given the three permissions (or a superuser); in the admin, as Django's admin
# wants, only if they are staff too.
MAY = {"granted_user", "granted_staff", "full_staff"}
MAY_IN_ADMIN = {"granted_staff", "full_staff"}
ACTIONS = ["api_start", "api_cancel", "api_activate", "page_cancel", "admin_start_form", "admin_start",
           "admin_cancel", "admin_cancel_action", "admin_activate", "page_offers_start", "page_offers_cancel"]


@pytest.fixture
def as_role(django_user_model, user, other_user, staff_user):
    def make(role: str) -> Client:
        client = Client()
        if role == "anonymous":
            return client
        person = {"user": user, "other_user": other_user, "full_staff": staff_user}.get(role)
        if role == "view_only_staff":
            person = django_user_model.objects.create_user(username="viewer", password="x-pass-123", is_staff=True)
            person.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
        elif role in ("granted_user", "granted_staff"):
            person = django_user_model.objects.create_user(username=role, password="x-pass-123",
                                                           is_staff=role == "granted_staff")
            person.user_permissions.add(*Permission.objects.filter(
                codename__in=["add_trainingrun", "change_trainingrun", "change_modelversion", "view_trainingrun",
                              "view_modelversion"]))
        client.force_login(person)
        return client
    return make


def attempt(action: str, client: Client, run: TrainingRun, version: ModelVersion) -> bool:
    """Try ``action``; True if it took effect (or, for a page, offered it)."""
    runs_before = TrainingRun.objects.count()
    if action == "api_start":
        response = client.post("/api/runs/", {"preset": "default", "label_source": "user_mean"},
                               content_type="application/json")
        return response.status_code not in (401, 403)  # allowed: 201, or 400 for the body, never refused
    if action == "api_cancel":
        client.post(f"/api/runs/{run.pk}/cancel/")
    elif action == "api_activate":
        client.post(f"/api/model-versions/{version.pk}/activate/")
    elif action == "page_cancel":
        client.post(f"/runs/{run.pk}/cancel/")
    elif action == "admin_start_form":
        return client.get("/admin/trailers/trainingrun/add/").status_code == 200
    elif action == "admin_start":
        client.post("/admin/trailers/trainingrun/add/", {"preset": "default"})
        return TrainingRun.objects.count() > runs_before or client.get(
            "/admin/trailers/trainingrun/add/").status_code == 200
    elif action == "admin_cancel":
        client.post(f"/admin/trailers/trainingrun/{run.pk}/cancel/")
    elif action == "admin_cancel_action":
        client.post("/admin/trailers/trainingrun/", {"action": "cancel_runs", "_selected_action": [run.pk]})
    elif action == "admin_activate":
        client.post("/admin/trailers/modelversion/", {"action": "activate", "_selected_action": [version.pk]})
    elif action == "page_offers_start":
        return "Start a training run" in client.get("/runs/").content.decode()
    elif action == "page_offers_cancel":
        return 'id="cancel-run"' in client.get(f"/runs/{run.pk}/").content.decode()
    run.refresh_from_db()
    version.refresh_from_db()
    return run.cancel_requested or run.status == TrainingRun.Status.CANCELLED or version.is_active


@pytest.mark.parametrize("role", ROLES)
def test_every_way_in_follows_the_one_rule(role, as_role, make_run, make_version):
    client = as_role(role)
    allowed = {}
    for action in ACTIONS:
        run = make_run(status=TrainingRun.Status.RUNNING)
        version = make_version(number=ModelVersion.objects.count() + 1, run=make_run())
        allowed[action] = attempt(action, client, run, version)
    expected = {action: role in (MAY_IN_ADMIN if action.startswith("admin_") else MAY) for action in ACTIONS}
    assert allowed == expected
