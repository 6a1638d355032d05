"""The project's own 404 and 500 pages, also with DEBUG on (the demo keeps it): never Django's technical pages,
which list every URL of the site."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings
from django.urls import path

from trailers.models import Trailer
from trailers.urls import urlpatterns as site_patterns

pytestmark = pytest.mark.django_db


def crash(request):
    raise RuntimeError("a bug the visitor should not read about")


urlpatterns = [path("crash/", crash), *site_patterns]


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    settings.TECHNICAL_ERROR_PAGES = False
    return settings


def test_an_unknown_address_gets_the_project_page_not_the_url_list(debug, user_client):
    response = user_client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in html and "There is nothing at /no/such/page/." in html
    assert "URLconf" not in html and "accounts/signup/" not in html and "Reelscore</a>" in html


def test_no_page_shows_a_template_comment(debug, client, user_client):
    # A {# #} comment holds one line only: the notices' two-line one was shown as text on pages without notices.
    for answer in (user_client.get("/no-such-page/"), client.get("/accounts/password_reset/"),
                   client.get("/accounts/login/"), user_client.get("/")):
        page = answer.content.decode()
        assert "{#" not in page and "#}" not in page and "Notices from django.contrib.messages" not in page


def test_a_missing_row_gets_the_project_page_with_its_reason(debug, user_client):
    response = user_client.get("/trailers/987654/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "No trailer with id 987654." in html and "Traceback" not in html and "technical" not in html


def test_a_slash_is_still_added_where_it_belongs(debug, user_client):
    response = user_client.get("/runs")
    assert response.status_code == 301 and response["Location"] == "/runs/"


@override_settings(ROOT_URLCONF=__name__)
def test_a_crash_gets_the_project_500_page_and_the_log_gets_the_traceback(debug, user_client, caplog):
    user_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = user_client.get("/crash/")
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in html
    assert "a bug the visitor should not read about" not in html
    assert "a bug the visitor should not read about" in caplog.text and "Traceback" in caplog.text


def test_technical_pages_come_back_when_asked_for(debug, user_client):
    debug.TECHNICAL_ERROR_PAGES = True
    html = user_client.get("/no/such/page/").content.decode()
    assert "URLconf" in html


def test_a_visit_to_a_buttons_address_gets_a_page_that_says_so(user_client, make_trailer, api):
    trailer = make_trailer()
    response = user_client.get(f"/trailers/{trailer.pk}/delete/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    html = response.content.decode()
    assert "<h1>Not this way</h1>" in html and "This address answers a form's button (POST), not a visit" in html
    assert Trailer.objects.filter(pk=trailer.pk).exists()  # nothing happened to it
    # The API keeps its own answer: JSON with the reason.
    refused = api.get(f"/api/trailers/{trailer.pk}/retry/")
    assert refused.status_code == 405 and refused.json()["code"] == "method_not_allowed"


def _notices(html: str) -> str:
    from html import unescape

    return " ".join(unescape(html).split())


def test_a_form_sent_from_an_out_of_date_page_gets_the_site_page_and_nothing_is_saved(debug, user, make_trailer):
    """A rating button pressed in a tab opened before logging out and in again (its CSRF token no longer holds): the
    site's own page says what happened; from htmx, the page it was pressed on comes back with the same words,
    where Django's technical CSRF page was swapped into the rating card."""
    from django.test import Client

    from trailers.models import Rating

    trailer = make_trailer()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get(f"/trailers/{trailer.pk}/")  # sets the CSRF cookie
    response = browser.post(f"/trailers/{trailer.pk}/rating/", {"score": 7, "csrfmiddlewaretoken": "stale" * 8})
    html = _notices(response.content.decode())
    assert response.status_code == 403
    assert ("This page was out of date (you logged in or out in another tab, or it was open a long time), so what "
            "you just sent was not saved. Go back, reload the page and do it again.") in html
    assert "CSRF verification failed" not in html and "csrf_token" not in html

    page = f"http://testserver/trailers/{trailer.pk}/"
    response = browser.post(f"/trailers/{trailer.pk}/rating/", {"score": 7, "csrfmiddlewaretoken": "stale" * 8},
                            HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page)
    assert response.status_code == 403 and response["HX-Redirect"] == f"/trailers/{trailer.pk}/"
    assert "was not saved. The page is fresh now: do it again." in _notices(browser.get(f"/trailers/{trailer.pk}/")
                                                                             .content.decode())
    assert not Rating.objects.exists()


def test_an_htmx_request_after_logging_out_sends_the_whole_page_to_log_in(client, user, make_trailer):
    """The rating card, or Rate next's keys, pressed after logging out in another tab: the login page came back into
    the card and the click was lost without a word. Now the whole page goes to log in, and back afterwards."""
    trailer = make_trailer()
    page = f"http://testserver/trailers/{trailer.pk}/?tab=ratings"
    response = client.post(f"/trailers/{trailer.pk}/rating/", {"score": 7}, HTTP_HX_REQUEST="true",
                           HTTP_HX_CURRENT_URL=page)
    assert response.status_code == 200 and "<form" not in response.content.decode()
    assert response["HX-Redirect"] == f"/accounts/login/?next=/trailers/{trailer.pk}/%3Ftab%3Dratings"
    html = _notices(client.get(response["HX-Redirect"]).content.decode())
    assert "You were logged out, so what you just did was not saved: log in to carry on." in html
    # A page's own polling (a GET) lost nothing the person did, and says so.
    response = client.get(f"/trailers/{trailer.pk}/live/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page)
    html = _notices(client.get(response["HX-Redirect"]).content.decode())
    assert "You were logged out: log in to carry on." in html and "not saved" not in html
    # Without htmx, login_required's own redirect, as before.
    response = client.post(f"/trailers/{trailer.pk}/rating/", {"score": 7})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")



@pytest.mark.parametrize(("cookie", "origin", "words"), [
    (True, None, "This page was out of date (you logged in or out in another tab, or it was open a long time), so "
                 "what you just sent was not saved. Go back, reload the page and do it again."),
    (False, None, "Your browser sent none of this site's cookies (they are blocked, or were cleared since the page "
                  "was loaded), so what you just sent was not saved. Allow this site's cookies, reload the page and "
                  "do it again."),
    (True, "https://elsewhere.example", "This was sent from another address than the site's own, so it was refused "
                                        "and nothing was saved. Use the site at its own address; if that is the "
                                        "address you used, its operator must add it to CSRF_TRUSTED_ORIGINS."),
])
def test_each_csrf_refusal_says_what_happened_and_what_to_do(debug, user, make_trailer, cookie, origin, words):
    """A stale token, no cookie at all (blocked), a form from another address: reloading cures only the first, so
    each says its own cause; the log keeps Django's reason."""
    from django.test import Client

    trailer = make_trailer()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    if cookie:
        browser.get(f"/trailers/{trailer.pk}/")  # sets the CSRF cookie
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    response = browser.post(f"/trailers/{trailer.pk}/rating/", {"score": 7, "csrfmiddlewaretoken": "stale" * 8},
                            **extra)
    assert response.status_code == 403 and words in _notices(response.content.decode())


def test_technical_error_pages_bring_back_django_s_csrf_page(debug, user, make_trailer):
    from django.test import Client

    debug.TECHNICAL_ERROR_PAGES = True
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(f"/trailers/{make_trailer().pk}/rating/", {"score": 7})
    assert response.status_code == 403 and "CSRF verification failed" in response.content.decode()
