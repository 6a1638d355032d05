"""The trailer admin changes and deletes trailers as the pages and the API do, through the services: a reference
score within 0–10 (or none), no file swapped in by hand, and never a trailer a worker is processing."""

from __future__ import annotations

import re
from html import unescape

import pytest

from trailers.models import Trailer
from trailers.store import exists

pytestmark = pytest.mark.django_db


def _messages(html: str) -> list[str]:
    items = re.findall(r'<ul class="messagelist">(.*?)</ul>', html, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in re.findall(r"<li[^>]*>(.*?)</li>", "".join(items), re.S)]


def _change(client, trailer, **fields):
    page = client.get(f"/admin/trailers/trailer/{trailer.pk}/change/").content.decode()
    form = {name: unescape(value) for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}
    form.update({"_save": "Save", **fields})
    return client.post(f"/admin/trailers/trailer/{trailer.pk}/change/", form)


def test_the_change_form_sets_and_clears_the_reference_score_and_refuses_one_outside_0_10(staff_client, make_trailer):
    trailer = make_trailer(title="Scored", subclips=0)
    assert _change(staff_client, trailer, reference_score="7.5").status_code == 302
    trailer.refresh_from_db()
    assert trailer.reference_score == 7.5

    refused = _change(staff_client, trailer, reference_score="11")
    assert refused.status_code == 200 and "reference score" in unescape(refused.content.decode()).lower()
    trailer.refresh_from_db()
    assert trailer.reference_score == 7.5  # kept

    assert _change(staff_client, trailer, reference_score="").status_code == 302
    trailer.refresh_from_db()
    assert trailer.reference_score is None and trailer.title == "Scored"


def test_the_browser_copy_is_not_a_field_to_upload_into(staff_client, make_trailer):
    trailer = make_trailer(subclips=0)
    page = staff_client.get(f"/admin/trailers/trailer/{trailer.pk}/change/").content.decode()
    assert 'type="file"' not in page and 'name="browser_copy' not in page


def test_a_trailer_being_processed_is_not_deleted_from_the_admin(staff_client, make_trailer):
    busy = make_trailer(title="Busy", status=Trailer.Status.PROCESSING)
    ready = make_trailer(title="Ready")
    refusal = "“Busy” is being processed right now: delete it once it is ready or has failed."
    for method in (staff_client.get, staff_client.post):
        response = method(f"/admin/trailers/trailer/{busy.pk}/delete/", {"post": "yes"}, follow=True)
        assert response.redirect_chain[-1][0] == f"/admin/trailers/trailer/{busy.pk}/change/"
        assert refusal in _messages(response.content.decode())
    response = staff_client.post("/admin/trailers/trailer/", {"action": "delete_selected", "post": "yes",
                                                              "_selected_action": [busy.pk, ready.pk]}, follow=True)
    assert refusal in _messages(response.content.decode())
    assert set(Trailer.objects.values_list("title", flat=True)) == {"Busy", "Ready"}  # neither deleted


def test_deleting_from_the_admin_takes_the_trailer_s_files_with_it(staff_client, make_trailer,
                                                                   django_capture_on_commit_callbacks):
    trailer = make_trailer(title="Gone")
    names = [trailer.file.name, *(s.frames.name for s in trailer.subclips.all())]
    assert all(exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/admin/trailers/trailer/{trailer.pk}/delete/", {"post": "yes"}, follow=True)
    assert response.status_code == 200 and not Trailer.objects.filter(pk=trailer.pk).exists()
    assert not any(exists(name) for name in names)
