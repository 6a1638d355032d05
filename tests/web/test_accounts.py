"""Log in, log out and sign up, change one's password and get a new one, as a person does in a browser form."""

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


def test_wrong_password_says_so_once(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    html = response.content.decode()
    assert html.count("didn&#x27;t match. Please try again (both are case-sensitive).") == 1
    assert "Please enter a correct username" not in html  # Django's own words, which said it a second time
    # The fields point to the refusal, so the focused one (the username) reads it out to a screen reader.
    assert '<p id="login-error" class="notice notice-error">' in html
    assert html.count('aria-invalid="true" aria-describedby="login-error"') == 2


def test_guessing_passwords_is_slowed_alike_on_the_login_page_the_admin_and_the_api(client, user, staff_user,
                                                                                  settings):
    from rest_framework.test import APIClient

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "passwords": "4/minute"}}
    for _ in range(5):  # right passwords count for nothing: a class behind one address logs in together
        client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
        assert client.session["_auth_user_id"] == str(user.pk)
        client.logout()
    for password in ("nope", "wrong"):
        assert "didn&#x27;t match" in client.post("/accounts/login/", {"username": "alice", "password": password}
                                                  ).content.decode()
    admin_wrong = client.post("/admin/login/", {"username": staff_user.username, "password": "guess"})
    assert admin_wrong.status_code == 200 and not admin_wrong.wsgi_request.user.is_authenticated
    assert APIClient().post("/api/token/", {"username": "alice", "password": "guess"}, format="json"
                            ).status_code == 400
    # The budget of 4 attempts from this address is spent: the right password is not even checked.
    refused = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
    words = _text(refused)
    assert "Too many wrong passwords from your address (4 per minute); try again in" in words
    assert "Nothing was checked." in words and "didn't match" not in words
    assert "_auth_user_id" not in client.session
    assert "Too many wrong passwords" in _text(client.post("/admin/login/", {"username": "alice", "password": "x"}))
    assert APIClient().post("/api/token/", {"username": "alice", "password": "alice-pass-123"}, format="json"
                            ).status_code == 429
    # Another address has its own budget.
    other = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"},
                        REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


def _text(response) -> str:
    """The page's words, without its markup."""
    import re
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", "", response.content.decode())).split())


def test_without_email_the_reset_page_says_how_else_to_get_a_password(client, user, settings, mailoutbox):
    """The site sends no email unless EMAIL_URL is set: the reset page said "We've emailed you instructions" and
    the log said the sending failed. Now it says so, and how else to get a new password."""
    settings.SENDS_EMAIL = False
    login = _text(client.get("/accounts/login/"))
    assert "Forgotten your password?" in login
    for response in (client.get("/accounts/password_reset/"),
                     client.post("/accounts/password_reset/", {"email": "alice@example.org"}, follow=True)):
        text = _text(response)
        assert "This site sends no email (its operator has not set EMAIL_URL), so a new password cannot be sent to " \
               "you. Ask a staff member to set one for you" in text
        assert "emailed" not in text
    assert mailoutbox == []


def test_with_email_a_reset_link_sets_a_new_password(client, user, settings, mailoutbox):
    import re

    settings.SENDS_EMAIL = True
    user.email = "alice@example.org"
    user.save()
    response = client.post("/accounts/password_reset/", {"email": "alice@example.org"}, follow=True)
    assert "a link to set a new password is on its way there" in _text(response)
    [message] = mailoutbox
    assert message.to == ["alice@example.org"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert "Set my password" in _text(form) and "Django administration" not in _text(form)
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "n3w-Words-77", "new_password2": "n3w-Words-77"},
                       follow=True)
    assert "Your new password is set." in _text(done)
    assert client.login(username="alice", password="n3w-Words-77")
    assert "does not work any more" in _text(client.get(link, follow=True))  # a link works once


def test_a_person_changes_their_password_from_the_site_and_stays_logged_in(user_client, user):
    page = _text(user_client.get("/"))
    assert 'Password' in page and "/accounts/password_change/" in user_client.get("/").content.decode()
    form = _text(user_client.get("/accounts/password_change/"))
    assert "Change my password" in form and "Django administration" not in form
    response = user_client.post("/accounts/password_change/", {
        "old_password": "alice-pass-123", "new_password1": "n3w-Words-77", "new_password2": "n3w-Words-77"},
        follow=True)
    assert "Your new password is set; you stay logged in here." in _text(response)
    assert user_client.get("/").status_code == 200  # still logged in
    user.refresh_from_db()
    assert user.check_password("n3w-Words-77")


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
