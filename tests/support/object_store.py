"""Whether the object-store tests may skip: where the S3 server cannot start they skip with the reason, unless
REELSCORE_REQUIRE_S3=1 (CI sets it), where they fail instead."""

from __future__ import annotations

import os

import pytest

REQUIRE = "REELSCORE_REQUIRE_S3"


def unavailable(reason: str):
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"object-store tests are required here ({REQUIRE}=1), but {reason}")
    pytest.skip(f"object-store tests skipped: {reason}")
