"""`serve` with DEBUG off collects static files itself, so its pages render instead of a 500
("Missing staticfiles manifest entry")."""

from __future__ import annotations

import pytest

from trailers.management.commands.serve import collect_static_for_production

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_static(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STATIC_ROOT.mkdir()  # as after a first deploy: the folder, not yet the manifest
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    return settings


def test_with_debug_off_serve_collects_the_static_files_the_pages_name(production_static, user_client):
    from django.contrib.staticfiles.storage import staticfiles_storage

    staticfiles_storage._setup()  # the storage object was built under the test settings' backend
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        user_client.get("/")
    assert collect_static_for_production() is True
    staticfiles_storage._setup()
    page = user_client.get("/")
    assert page.status_code == 200
    css = staticfiles_storage.url("css/reelscore.css")
    assert css != "/static/css/reelscore.css" and css in page.content.decode()  # the hashed name


def test_with_debug_on_nothing_is_collected(settings, tmp_path):
    settings.DEBUG = True
    settings.STATIC_ROOT = tmp_path / "static"
    assert collect_static_for_production() is False and not (tmp_path / "static").exists()
