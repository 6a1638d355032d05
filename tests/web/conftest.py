"""Page and API fixtures: rows made directly (no worker: tests/support/rows.py), small real files, a real synthetic
video, API clients."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.support.rows import create_prediction, create_run, create_trailer, create_version
from trailers.services import rate_trailer


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache: every test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_trailer():
    return create_trailer


@pytest.fixture
def make_run():
    return create_run


@pytest.fixture
def make_version():
    return create_version


@pytest.fixture
def make_prediction():
    return create_prediction


@pytest.fixture
def labelled(make_trailer, user):
    """Three ready trailers rated 3, 4 and 5 by ``user``: enough to start a run."""
    trailers = [make_trailer() for _ in range(3)]
    for i, trailer in enumerate(trailers):
        rate_trailer(user=user, trailer=trailer, score=3 + i)
    return trailers


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory):
    """A real 4 s H.264 trailer made by the project's generator (probe and decode work on it)."""
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("web-synthetic")
    return generate_trailer(folder / "synthetic-web.mp4", seed=7, duration=4.0, fps=12, width=64, height=48).path


@pytest.fixture(scope="session")
def other_synthetic_video(tmp_path_factory):
    from ml.synth import generate_trailer

    folder = tmp_path_factory.mktemp("web-synthetic-2")
    return generate_trailer(folder / "second-web.mp4", seed=8, duration=4.0, fps=12, width=64, height=48).path


@pytest.fixture
def api(user):
    """An API client authenticated as a normal user."""
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff_api(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client
