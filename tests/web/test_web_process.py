"""The web process stays light: serving pages never loads torch (about 190 MB and 1.5 s per process)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # imports every view, the admin and the API
import trailers.services, trailers.run_forms  # noqa
print("torch loaded" if "torch" in sys.modules else "torch not loaded")
"""


def test_pages_admin_and_api_do_not_import_torch():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "torch not loaded"
