"""Page and API fixtures: throttles that start empty, three rated trailers, API clients (rows made directly and the
synthetic videos are tests/conftest.py's)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from trailers.services import rate_trailer


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache: every test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def labelled(make_trailer, user):
    """Three ready trailers rated 3, 4 and 5 by ``user``: enough to start a run."""
    trailers = [make_trailer() for _ in range(3)]
    for i, trailer in enumerate(trailers):
        rate_trailer(user=user, trailer=trailer, score=3 + i)
    return trailers


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
