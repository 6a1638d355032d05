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
