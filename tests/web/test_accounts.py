"""Log in, log out and sign up, as a person does in a browser form."""

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def test_pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_and_login(client, user):
    assert "Log in" in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"}, follow=True)
    assert response.context["user"].username == "alice"
    assert "Dataset" in response.content.decode()


def test_wrong_password_says_so(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert "didn't match. Please try again." in response.content.decode()


def test_signup_creates_an_account_and_logs_in(client):
    response = client.post("/accounts/signup/", {"username": "carol", "email": "", "password1": "s3cret-Words-9",
                                                 "password2": "s3cret-Words-9"}, follow=True)
    assert User.objects.filter(username="carol").exists()
    assert response.context["user"].username == "carol"
    assert "your account is ready" in response.content.decode()


def test_signup_rejects_mismatched_passwords(client):
    response = client.post("/accounts/signup/", {"username": "dave", "password1": "s3cret-Words-9",
                                                 "password2": "other-Words-9"})
    assert response.status_code == 200
    assert not User.objects.filter(username="dave").exists()
    assert "password fields didn’t match" in response.content.decode()


def test_logout(user_client):
    response = user_client.post("/accounts/logout/", follow=True)
    assert response.context["user"].is_anonymous
