"""`manage.py serve`: with DEBUG off it collects static files itself, so its pages render instead of a
500 ("Missing staticfiles manifest entry"); its web server names no server software or Python version."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.support.processes import listening, start_serve, wait_for
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


# --- the real `serve`, in a process of its own --------------------------------------------------


@pytest.fixture
def served(tmp_path):
    """`manage.py serve` on the embedded default under tmp_path, as `make run` starts it; its port. Stopped, with
    its children, after the test."""
    process, port, log_path = start_serve(tmp_path / "var")
    try:
        wait_for(lambda: listening(port) or process.poll() is not None, timeout=120, interval=0.2,
                 message="serve to listen")
        assert process.poll() is None, f"serve exited with {process.returncode}:\n{log_path.read_text()}"
        yield port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # serve stops its web server and worker
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its process group
        except ProcessLookupError:
            pass
        process.wait()


def _raw_answer(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


def test_serve_names_no_server_software_or_python_version(served):
    connection = http.client.HTTPConnection("127.0.0.1", served, timeout=30)
    connection.request("GET", "/accounts/login/")
    page = connection.getresponse()
    assert page.status == 200 and b"Log in" in page.read()
    assert page.getheader("Server") == "Reelscore", page.getheaders()
    connection.request("GET", "/static/css/reelscore.css")  # WhiteNoise answers this one, not a view
    css = connection.getresponse()
    css.read()
    assert css.status == 200 and css.getheader("Server") == "Reelscore"
    connection.close()
    # A URL too long for the server: it answers by itself, before any of the application runs.
    refused = _raw_answer(served, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert refused.startswith("HTTP/1.1 414"), refused[:200]
    assert "\r\nServer: Reelscore\r\n" in refused, refused[:400]
    for answer in (str(page.getheaders()), str(css.getheaders()), refused):
        assert "WSGIServer" not in answer and "CPython" not in answer and sys.version.split()[0] not in answer
