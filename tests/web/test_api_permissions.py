"""API permission matrix: anonymous / user / staff × every action; and token authentication."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from trailers.models import Rating, TrainingRun
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_trailer, make_run, make_version, other_user):
    trailer = make_trailer()
    rate_trailer(user=other_user, trailer=trailer, score=2)
    run = make_run(status=TrainingRun.Status.RUNNING)
    version = make_version(number=1)
    return {"trailer": trailer.pk, "run": run.pk, "version": version.pk}


ACTIONS = {
    # name: (method, url template, body, format)
    "list trailers": ("get", "/api/trailers/", None, None),
    "retrieve trailer": ("get", "/api/trailers/{trailer}/", None, None),
    "upload trailer": ("post", "/api/trailers/", "upload", "multipart"),
    "put my rating": ("put", "/api/trailers/{trailer}/rating/", {"score": 6}, "json"),
    "delete my rating": ("delete", "/api/trailers/{trailer}/rating/", None, None),
    "list runs": ("get", "/api/runs/", None, None),
    "retrieve run": ("get", "/api/runs/{run}/", None, None),
    "start run": ("post", "/api/runs/", {"model": {"lstm_size": 0}}, "json"),
    "cancel run": ("post", "/api/runs/{run}/cancel/", None, None),
    "list versions": ("get", "/api/model-versions/", None, None),
    "retrieve version": ("get", "/api/model-versions/{version}/", None, None),
    "activate version": ("post", "/api/model-versions/{version}/activate/", None, None),
    "list predictions": ("get", "/api/predictions/", None, None),
}
STAFF_ONLY = {"start run", "cancel run", "activate version"}
# What a permitted caller gets (the start-run body is invalid on purpose: 400 proves it got past permissions).
ALLOWED = {"upload trailer": 400, "put my rating": 200, "delete my rating": 204, "start run": 400}


def call(client, name, ids):
    method, url, body, fmt = ACTIONS[name]
    if body == "upload":
        body = {"file": SimpleUploadedFile("not-a-video.mp4", b"plain text")}
    kwargs = {"format": fmt} if fmt else {}
    return getattr(client, method)(url.format(**ids), body, **kwargs)


@pytest.mark.parametrize("name", ACTIONS)
def test_anonymous_gets_401(world, name):
    response = call(APIClient(), name, world)
    assert response.status_code == 401, (name, response.content)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("name", ACTIONS)
def test_a_normal_user(world, user, name):
    client = APIClient()
    client.force_authenticate(user)
    response = call(client, name, world)
    expected = 403 if name in STAFF_ONLY else ALLOWED.get(name, 200)
    assert response.status_code == expected, (name, response.content)


@pytest.mark.parametrize("name", ACTIONS)
def test_staff(world, staff_user, name):
    client = APIClient()
    client.force_authenticate(staff_user)
    response = call(client, name, world)
    assert response.status_code == ALLOWED.get(name, 200), (name, response.content)


def test_a_user_cannot_see_or_change_other_users_ratings(world, user, other_user):
    client = APIClient()
    client.force_authenticate(user)
    trailer = client.get(f"/api/trailers/{world['trailer']}/").json()
    assert trailer["my_rating"] is None and trailer["rating_count"] == 1  # bob's 2 is only counted
    assert "bob" not in str(trailer)
    assert client.get(f"/api/trailers/{world['trailer']}/rating/").status_code == 404  # bob's is not "mine"
    client.delete(f"/api/trailers/{world['trailer']}/rating/")
    assert Rating.objects.get(user=other_user).score == 2


def test_token_authentication(world, user):
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/trailers/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert client.get("/api/trailers/").status_code == 401


def test_token_endpoint(user):
    response = APIClient().post("/api/token/", {"username": "alice", "password": "alice-pass-123"}, format="json")
    assert response.status_code == 200 and response.json()["token"] == Token.objects.get(user=user).key
    bad = APIClient().post("/api/token/", {"username": "alice", "password": "nope"}, format="json")
    assert bad.status_code == 400 and bad.json() == {  # the shape of every refusal, DRF's key kept beside it
        "detail": "Unable to log in with provided credentials.", "code": "invalid_credentials",
        "non_field_errors": ["Unable to log in with provided credentials."]}
    extra = APIClient().post("/api/token/", {"username": "alice", "password": "alice-pass-123", "x": 1}, format="json")
    assert extra.status_code == 400 and extra.json() == {"x": ["Unknown field."]}  # refused, naming it


def test_a_client_that_still_sends_a_revoked_token_or_a_session_without_csrf_can_get_a_new_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION="Token revoked-by-a-password-change")
    answer = client.post("/api/token/", {"username": "alice", "password": "alice-pass-123"}, format="json")
    assert answer.status_code == 200 and answer.json()["token"] == Token.objects.get(user=user).key
    assert client.delete("/api/token/").status_code == 401  # revoking still needs a valid one
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)  # a session cookie, and no CSRF token
    assert browser.post("/api/token/", {"username": "alice", "password": "alice-pass-123"},
                        format="json").status_code == 200


def test_a_body_that_is_no_json_object_is_refused_in_every_refusal_s_shape(user, make_trailer):
    client = APIClient()
    client.force_login(user)
    answer = client.put(f"/api/trailers/{make_trailer().pk}/rating/", [5], format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and "Expected a dictionary, but got list" in answer.json()["detail"]


def test_token_requests_are_throttled_per_client_address(user, settings):
    """Guessing passwords at the token endpoint is slowed: every request counts, a right password too."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "passwords": "3/minute"}}
    codes = [APIClient().post("/api/token/", {"username": "alice", "password": password}, format="json",
                              HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code  # a new made-up address each time
             for n, password in enumerate(("nope", "wrong", "alice-pass-123", "alice-pass-123"))]
    assert codes == [400, 400, 200, 429]  # counted by the connection's address: no proxy is configured


def test_session_authentication_needs_csrf_for_writes(world, user):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="alice", password="alice-pass-123")
    assert client.get("/api/trailers/").status_code == 200
    response = client.put(f"/api/trailers/{world['trailer']}/rating/", {"score": 5}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_options_describes_each_method_s_own_body_for_whoever_may_send_it(api, staff_api, make_trailer, user):
    def sent(client, url, method):  # the fields a client sends: those OPTIONS does not mark read-only
        return {name for name, field in client.options(url).json()["actions"][method].items() if not field["read_only"]}

    trailer = make_trailer(uploaded_by=user)
    assert sent(api, "/api/trailers/", "POST") == {"file", "title", "reference_score"}  # not a trailer's fields
    assert sent(api, f"/api/trailers/{trailer.pk}/rating/", "PUT") == {"score"}
    assert sent(api, f"/api/trailers/{trailer.pk}/", "PATCH") == {"title"}
    theirs = make_trailer()  # someone else's: this user may not rename it, so no rename is offered
    assert "actions" not in api.options(f"/api/trailers/{theirs.pk}/").json()
    assert "actions" not in api.options("/api/runs/").json()  # a user who may not start runs is offered none
    assert {"preset", "model", "train"} <= sent(staff_api, "/api/runs/", "POST")
