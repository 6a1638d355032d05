"""What a security review of stop 38 found, each as the attacker tried it: API tokens read in the admin, bodies
streamed to disk before any login, budgets that one door skipped or that new accounts renewed, stored files open to
any staff member, the demo's known admin password served to other machines, and a ``next`` a browser reads as
another site."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from trailers.demo import DEMO_USERS
from trailers.management.commands.serve import DEMO_ADMIN, Command, _serves_others
from trailers.models import Rating

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture
def view_only_staff(django_user_model):
    person = django_user_model.objects.create_user(username="auditor", password="x-pass-123", is_staff=True)
    person.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    return person


def _rates(settings, **rates):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}}


# --- API tokens in the admin -----------------------------------------------------------------------------------


def test_no_admin_page_shows_a_token_and_only_superusers_see_whose_there_are(client, staff_user, user,
                                                                             view_only_staff):
    theirs = Token.objects.create(user=staff_user).key
    Token.objects.create(user=user)
    client.force_login(view_only_staff)
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404  # DRF's own page, with the keys, is gone
    assert client.get("/admin/trailers/apitoken/").status_code == 403
    assert "API tokens" not in client.get("/admin/").content.decode()

    client.force_login(staff_user)  # a superuser
    listing = client.get("/admin/trailers/apitoken/").content.decode()
    assert "alice" in listing and "staff" in listing and theirs not in listing
    page = client.get(f"/admin/trailers/apitoken/{user.pk}/change/").content.decode()
    assert "alice" in page and Token.objects.get(user=user).key not in page
    assert client.get("/admin/trailers/apitoken/add/").status_code == 403  # a token is made by its owner only
    # Revoking: the confirmation names the owner, not the key, and the token stops working.
    key = Token.objects.get(user=user).key
    confirm = html.unescape(client.get(f"/admin/trailers/apitoken/{user.pk}/delete/").content.decode())
    assert "alice's API token" in confirm and key not in confirm
    client.post(f"/admin/trailers/apitoken/{user.pk}/delete/", {"post": "yes"})
    assert not Token.objects.filter(user=user).exists()
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/trailers/").status_code == 401


# --- bodies read before any login ----------------------------------------------------------------------------


def _declared(client: Client, path: str, length: int, **extra):
    """POST a small multipart body whose Content-Length says ``length``: the test client's payload refuses to be
    read past what it holds, so a view that reads the body fails; one refused before reading answers."""
    return client.post(path, data=b"--b\r\n", content_type="multipart/form-data; boundary=b",
                       CONTENT_LENGTH=str(length), **extra)


def test_a_large_body_is_refused_before_it_is_read_wherever_no_file_is_taken(user, settings):
    incoming = Path(settings.MEDIA_ROOT) / "incoming"
    before = set(incoming.iterdir()) if incoming.exists() else set()
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32  # CSRF reads a form whose cookie is there, whatever its value
    response = _declared(client, "/accounts/login/", 200 * MB)
    assert response.status_code == 413
    assert "The request body is too large" in response.content.decode()
    assert (set(incoming.iterdir()) if incoming.exists() else set()) == before
    client.force_login(user)  # logged in, the same anywhere no file is taken
    assert _declared(client, "/trailers/1/rating/", 200 * MB).status_code == 413
    api = APIClient()
    api.force_authenticate(user)
    refused = _declared(api, "/api/trailers/1/rating/", 200 * MB)
    assert refused.status_code == 413 and refused.json()["code"] == "body_too_large"


def test_a_file_is_taken_only_from_someone_logged_in_and_only_as_large_as_its_address_takes(client, staff_user):
    # Not logged in: the upload page and the ratings import read no more than a form.
    for path in ("/upload/", "/raters/import/"):
        assert _declared(client, path, 200 * MB).status_code == 413, path
    refused = _declared(APIClient(), "/api/ratings/import/", 200 * MB)
    assert refused.status_code == 413 and "Log in first" in refused.json()["detail"]
    # A header that is no API token does not count as logged in, on a page or the API.
    csrf = Client(enforce_csrf_checks=True)
    csrf.cookies["csrftoken"] = "x" * 32
    assert _declared(csrf, "/raters/import/", 15 * MB, HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==").status_code == 413
    assert _declared(APIClient(), "/api/ratings/import/", 30 * MB,
                     HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==").status_code == 413
    # Logged in: a ratings file is refused past its own limit, naming it.
    client.force_login(staff_user)
    response = _declared(client, "/raters/import/", 30 * MB)
    assert response.status_code == 413 and "20.0\xa0MB" in response.content.decode()


# --- budgets -----------------------------------------------------------------------------------------------------


def test_the_rating_pages_spend_the_same_budget_as_the_api(user_client, user, make_trailer, settings):
    _rates(settings, ratings="3/hour")
    first, second, third = make_trailer(), make_trailer(), make_trailer()
    api = APIClient()
    api.force_authenticate(user)
    assert api.put(f"/api/trailers/{first.pk}/rating/", {"score": 4}, format="json").status_code == 200
    assert user_client.post(f"/trailers/{second.pk}/rating/", {"score": 6}).status_code == 302
    assert user_client.post("/rate/", {"trailer": third.pk, "score": 7}).status_code == 302
    # The budget is spent: each door refuses, saying when to try again, and nothing changes.
    page = user_client.post(f"/trailers/{first.pk}/rating/", {"score": 9}, follow=True).content.decode()
    assert "You have reached the rating limit of 3 ratings per hour; try again in" in page
    refused = user_client.post("/rate/", {"trailer": first.pk, "score": 9}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 429 and "rating limit" in refused.content.decode()
    answer = api.put(f"/api/trailers/{first.pk}/rating/", {"score": 9}, format="json")
    assert answer.status_code == 429 and "rating limit of 3 ratings per hour" in answer.json()["detail"]
    assert user_client.post(f"/trailers/{first.pk}/rating/", {"clear": "1"}).status_code == 302
    assert Rating.objects.get(trailer=first, user=user).score == 4


def test_accounts_made_from_one_address_are_limited(client, settings):
    _rates(settings, signups="2/hour")
    def sign_up(name):
        return client.post("/accounts/signup/", {"username": name, "email": "", "password1": "s3cret-Words-9",
                                                 "password2": "s3cret-Words-9"})
    assert sign_up("one").status_code == 302
    client.logout()
    assert sign_up("two").status_code == 302
    client.logout()
    refused = sign_up("three")
    assert refused.status_code == 429
    assert "Too many accounts were made from your address (2 accounts per hour)" in refused.content.decode()
    assert not User.objects.filter(username="three").exists()
    other = Client(REMOTE_ADDR="10.0.0.9")  # another address has its own budget
    assert other.post("/accounts/signup/", {"username": "four", "email": "", "password1": "s3cret-Words-9",
                                            "password2": "s3cret-Words-9"}).status_code == 302


# --- stored files ------------------------------------------------------------------------------------------------


def test_a_stored_file_opens_for_staff_who_may_view_its_rows(client, django_user_model, make_version, staff_user):
    version = make_version(number=1)
    url = f"/media/{version.weights.name}"
    bare = django_user_model.objects.create_user(username="bare", password="x-pass-123", is_staff=True)
    client.force_login(bare)
    refused = client.get(url)
    assert refused.status_code == 403 and "model versions" in refused.content.decode()
    bare.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(django_user_model.objects.get(pk=bare.pk))  # permissions are cached on the user object
    assert client.get(url).status_code == 200
    client.force_login(staff_user)
    assert client.get(url).status_code == 200


# --- the demo served to other machines -------------------------------------------------------------------------


def test_the_demo_served_to_other_machines_has_passwords_nobody_has_read(monkeypatch):
    from trailers import demo

    monkeypatch.delenv("REELSCORE_DEMO_PASSWORD", raising=False)
    assert not _serves_others("127.0.0.1") and not _serves_others("localhost") and not _serves_others("::1")
    assert _serves_others("0.0.0.0") and _serves_others("192.168.1.5") and _serves_others("example.org")
    demo._ensure_users()  # a demo built before, served here only: the README's passwords
    assert Command._demo_passwords(exposed=False) == (DEMO_ADMIN[1], DEMO_USERS[0][1])
    admin_password, people_password = Command._demo_passwords(exposed=True)
    admin = User.objects.get(username=DEMO_ADMIN[0])
    assert admin_password != DEMO_ADMIN[1] and len(admin_password) >= 12 and admin.check_password(admin_password)
    assert admin.is_superuser
    # The demo people there already, and those the build makes now, take the printed one.
    assert people_password != DEMO_USERS[0][1]
    assert all(User.objects.get(username=name).check_password(people_password) for name, _ in DEMO_USERS)
    User.objects.filter(username=DEMO_USERS[-1][0]).delete()
    demo._ensure_users()
    assert User.objects.get(username=DEMO_USERS[-1][0]).check_password(people_password)
    # Served here again later, they keep the passwords they were given (the banner says so).
    monkeypatch.delenv("REELSCORE_DEMO_PASSWORD", raising=False)
    assert all("first served to other machines" in words for words in Command._demo_passwords(exposed=False))
    assert admin.check_password(admin_password)


# --- next --------------------------------------------------------------------------------------------------------


def test_next_after_activating_never_leaves_the_site(staff_client, make_version):
    version = make_version(number=1)
    for target in ("/\\evil.example/x", "/\t/evil.example/x", "//evil.example/x", "https://evil.example/"):
        response = staff_client.post(f"/versions/{version.pk}/activate/", {"next": target, "confirm": "1"})
        assert response.status_code == 302 and "evil" not in response["Location"], target
    response = staff_client.post(f"/versions/{version.pk}/activate/", {"next": "/versions/?x=1", "confirm": "1"})
    assert response["Location"] == "/versions/?x=1"
