"""Settings for the test suite: the real settings, with test-only environment defaults.

Each test session gets its own var/ folder (database, filesystem broker, media);
worker processes started by tests inherit it through the environment.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-in-production-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
for _name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(_name, "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("REELSCORE_VAR_DIR", tempfile.mkdtemp(prefix="reelscore-test-"))
# Tiny preprocessing so test trailers of a few seconds give several small subclips.
os.environ.setdefault("SAMPLING_N_SUBCLIPS", "3")
os.environ.setdefault("SAMPLING_SUBCLIP_DURATION", "1.5")
os.environ.setdefault("SAMPLING_OFFSET", "0.5")
os.environ.setdefault("SAMPLING_FRAMES_PER_SUBCLIP", "4")
os.environ.setdefault("SAMPLING_SIZE", "32")
os.environ.setdefault("EMBEDDING_SIZE", "64")  # the smallest size whose near-duplicate check holds (ml/crossval.py)
os.environ.setdefault("RUN_STALE_AFTER_SECONDS", "5")
os.environ.setdefault("PROCESSING_STALE_AFTER_SECONDS", "4")
os.environ.setdefault("SWEEP_INTERVAL_SECONDS", "2")

from config.settings import *  # noqa: E402,F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns when it is missing)
