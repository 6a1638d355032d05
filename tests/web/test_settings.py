"""Settings come from the environment: each documented variable is read, and production refuses unsafe set-ups."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from django.conf import settings
import django; django.setup()
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ENGINE": settings.DATABASES["default"]["ENGINE"],
    "DB_NAME": str(settings.DATABASES["default"]["NAME"]),
    "DB_HOST": settings.DATABASES["default"].get("HOST", ""),
    "DB_OPTIONS": settings.DATABASES["default"].get("OPTIONS", {}),
    "BROKER": settings.CELERY_BROKER_URL,
    "BROKER_OPTIONS": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    "STORAGE": settings.STORAGES["default"]["BACKEND"],
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "SIGNUP_ENABLED": settings.SIGNUP_ENABLED,
    "TRAILER_MAX_BYTES": settings.TRAILER_MAX_BYTES,
    "SAMPLING": settings.REELSCORE_SAMPLING,
    "STALE": settings.RUN_STALE_AFTER_SECONDS,
    "SWEEP": settings.SWEEP_INTERVAL_SECONDS,
    "REQUEUE": settings.REQUEUE_AFTER_SECONDS,
    "BROWSER_COPIES": settings.BROWSER_COPIES,
    "ACKS_LATE": settings.CELERY_TASK_ACKS_LATE,
    "REJECT_ON_LOST": settings.CELERY_TASK_REJECT_ON_WORKER_LOST,
    "PREFETCH": settings.CELERY_WORKER_PREFETCH_MULTIPLIER,
    "ROUTES": settings.CELERY_TASK_ROUTES,
    "BEAT": {k: {"task": v["task"], "schedule": v["schedule"]} for k, v in settings.CELERY_BEAT_SCHEDULE.items()},
    "STORAGE_OPTIONS": {k: v for k, v in settings.STORAGES["default"].get("OPTIONS", {}).items()
                        if isinstance(v, (str, int, bool, type(None)))},
    "CSP": settings.CONTENT_SECURITY_POLICY,
    "MEDIA_SERVE": [settings.MEDIA_SERVE, settings.MEDIA_ACCEL_PREFIX],
    "CACHE": [str(settings.WORKER_CACHE_DIR), settings.WORKER_CACHE_MAX_BYTES],
    "EMAIL": [settings.SENDS_EMAIL, settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT,
              settings.EMAIL_USE_TLS, settings.DEFAULT_FROM_EMAIL],
}))
"""

# Variables that would leak from the test run or CI into the probe.
CLEARED = ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "MEDIA_ROOT", "ALLOWED_HOSTS",
           "SIGNUP_ENABLED", "TRAILER_MAX_BYTES", "SWEEP_INTERVAL_SECONDS", "REQUEUE_AFTER_SECONDS", "BROWSER_COPIES",
           "STORAGE_BACKEND", "CELERY_VISIBILITY_TIMEOUT", "MEDIA_SERVE", "MEDIA_ACCEL_PREFIX", "WORKER_CACHE_DIR",
           "WORKER_CACHE_MAX_BYTES", "STORAGE_S3_BUCKET", "STORAGE_S3_ENDPOINT_URL", "STORAGE_S3_REGION",
           "STORAGE_S3_ACCESS_KEY_ID", "STORAGE_S3_SECRET_ACCESS_KEY", "STORAGE_S3_PREFIX", "STORAGE_S3_URL_EXPIRES",
           "STORAGE_S3_ADDRESSING_STYLE", "EMAIL_URL", "DEFAULT_FROM_EMAIL",
           "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS")


def run_settings(tmp_path, **variables):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith("SAMPLING_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", REELSCORE_VAR_DIR=str(tmp_path / "var"), **variables)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def read_settings(tmp_path, **variables):
    result = run_settings(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_default_needs_no_server(tmp_path):
    s = read_settings(tmp_path, DEBUG="1")
    assert s["DEBUG"] is True
    assert s["ENGINE"] == "django.db.backends.sqlite3"
    assert s["DB_NAME"] == str(tmp_path / "var" / "db.sqlite3")
    assert "journal_mode=WAL" in s["DB_OPTIONS"]["init_command"]
    assert s["DB_OPTIONS"]["timeout"] >= 10
    assert s["BROKER"] == "filesystem://localhost/"
    assert s["BROKER_OPTIONS"]["data_folder_in"].startswith(str(tmp_path / "var" / "broker"))
    assert (tmp_path / "var" / "broker" / "queue").is_dir()
    assert s["MEDIA_ROOT"] == str(tmp_path / "var" / "media")
    assert s["SAMPLING"] == {"n_subclips": 3, "subclip_duration": 30.0, "offset": 10.0,
                             "frames_per_subclip": 16, "size": 112, "snippet_frames": 2}


def test_real_services_from_urls(tmp_path):
    s = read_settings(
        tmp_path, DEBUG="1",
        DATABASE_URL="postgres://reel:pw@db.example:5433/reelscore",
        CELERY_BROKER_URL="redis://cache.example:6380/2",
        CELERY_VISIBILITY_TIMEOUT="7200",
        MEDIA_ROOT="/mnt/shared/media",
    )
    assert s["ENGINE"] == "django.db.backends.postgresql"
    assert (s["DB_NAME"], s["DB_HOST"]) == ("reelscore", "db.example")
    assert s["DB_OPTIONS"] == {"connect_timeout": 10}  # a database that cannot be reached fails in 10 s
    assert s["BROKER"] == "redis://cache.example:6380/2"
    assert s["BROKER_OPTIONS"] == {"visibility_timeout": 7200}
    assert s["MEDIA_ROOT"] == "/mnt/shared/media"


def test_the_database_urls_own_connect_timeout_wins(tmp_path):
    s = read_settings(tmp_path, DEBUG="1", DATABASE_URL="postgres://reel:pw@db.example:5433/reelscore?connect_timeout=3")
    assert int(s["DB_OPTIONS"]["connect_timeout"]) == 3


def test_redis_visibility_timeout_outlasts_training_runs(tmp_path):
    s = read_settings(tmp_path, DEBUG="1", CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert s["BROKER_OPTIONS"]["visibility_timeout"] >= 6 * 3600


def test_other_documented_variables(tmp_path):
    s = read_settings(tmp_path, SECRET_KEY="x" * 60, ALLOWED_HOSTS="reelscore.example,www.reelscore.example",
                      SIGNUP_ENABLED="0", TRAILER_MAX_BYTES="1000", RUN_STALE_AFTER_SECONDS="30",
                      SWEEP_INTERVAL_SECONDS="15", REQUEUE_AFTER_SECONDS="600", BROWSER_COPIES="0",
                      SAMPLING_SIZE="224", SAMPLING_FRAMES_PER_SUBCLIP="8",
                      STORAGE_BACKEND="django.core.files.storage.FileSystemStorage")
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == ["reelscore.example", "www.reelscore.example"]
    assert s["SIGNUP_ENABLED"] is False
    assert s["TRAILER_MAX_BYTES"] == 1000
    assert s["STALE"] == 30
    assert (s["SWEEP"], s["REQUEUE"], s["BROWSER_COPIES"]) == (15, 600, False)
    assert (s["SAMPLING"]["size"], s["SAMPLING"]["frames_per_subclip"]) == (224, 8)
    assert s["EMAIL"][0] is False  # no EMAIL_URL: no email, and the reset page says so


def test_email_from_one_url(tmp_path):
    s = read_settings(tmp_path, DEBUG="1", EMAIL_URL="smtp+tls://reelscore:pw@smtp.example.org:587",
                      DEFAULT_FROM_EMAIL="reelscore@example.org")
    assert s["EMAIL"] == [True, "django.core.mail.backends.smtp.EmailBackend", "smtp.example.org", 587, True,
                          "reelscore@example.org"]


def test_celery_acks_late_and_routes_by_queue(tmp_path):
    s = read_settings(tmp_path, DEBUG="1")
    assert s["ACKS_LATE"] and s["REJECT_ON_LOST"] and s["PREFETCH"] == 1
    assert s["ROUTES"]["trailers.tasks.preprocess_trailer_task"]["queue"] == "video"
    assert s["ROUTES"]["trailers.tasks.train_run_task"]["queue"] == "gpu"
    assert s["ROUTES"]["trailers.tasks.score_trailers_task"]["queue"] == "gpu"


def test_missing_secret_key_is_a_clear_startup_error(tmp_path):
    result = run_settings(tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_migration_commands_need_no_secret_key_and_the_rest_still_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith("SAMPLING_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", REELSCORE_VAR_DIR=str(tmp_path / "var"))

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    checked = manage("makemigrations", "--check", "--dry-run")
    assert checked.returncode == 0 and "No changes detected" in checked.stdout, checked.stderr
    refused = manage("migrate")
    assert refused.returncode != 0 and "SECRET_KEY is not set" in refused.stderr


def test_check_deploy_passes_with_production_variables(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith("SAMPLING_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", REELSCORE_VAR_DIR=str(tmp_path / "var"),
               SECRET_KEY="prod-" + "k3y-Z" * 12, ALLOWED_HOSTS="reelscore.example", SECURE_HSTS_PRELOAD="1")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_migrations_are_complete():
    result = subprocess.run([sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_signup_can_be_turned_off(client, settings):
    settings.SIGNUP_ENABLED = False
    assert client.get("/accounts/signup/").status_code == 404


def test_a_production_response_says_what_the_page_may_load_and_use(client, settings):
    settings.DEBUG = False
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "camera=()" in response["Permissions-Policy"] and "microphone=()" in response["Permissions-Policy"]
    html = response.content.decode()
    assert " onclick=" not in html and " onsubmit=" not in html and " onchange=" not in html
    assert "no-store" in response["Cache-Control"]  # a page is asked for again on Back, never shown as it was


@pytest.mark.django_db
def test_pages_are_not_kept_but_files_and_data_keep_their_own_caching(user_client, make_trailer):
    trailer = make_trailer()
    for url in ("/", f"/trailers/{trailer.pk}/", "/rate/", "/no-such-page/"):
        assert user_client.get(url)["Cache-Control"] == "no-store", url
    assert user_client.get(f"/trailers/{trailer.pk}/thumbnail.jpg")["Cache-Control"].startswith("private, max-age=")
    assert "no-store" not in user_client.get(f"/trailers/{trailer.pk}/video/")["Cache-Control"]


def test_an_s3_compatible_store_from_the_environment(tmp_path):
    s = read_settings(tmp_path, DEBUG="1", STORAGE_BACKEND="s3", STORAGE_S3_BUCKET="trailers",
                      STORAGE_S3_ENDPOINT_URL="https://objects.example:9000", STORAGE_S3_REGION="eu-central-1",
                      STORAGE_S3_ACCESS_KEY_ID="AKIA-EXAMPLE", STORAGE_S3_SECRET_ACCESS_KEY="secret",
                      STORAGE_S3_PREFIX="/reelscore/", STORAGE_S3_URL_EXPIRES="600")
    assert s["STORAGE"] == "storages.backends.s3.S3Storage"
    options = s["STORAGE_OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == (
        "trailers", "https://objects.example:9000", "eu-central-1")
    assert (options["access_key"], options["secret_key"], options["location"]) == ("AKIA-EXAMPLE", "secret", "reelscore")
    assert options["default_acl"] is None and options["querystring_auth"] is True  # private, presigned URLs
    assert options["querystring_expire"] == 600
    # Pages may play and show what the store sends, and nothing else new.
    assert "media-src 'self' blob: https://objects.example:9000;" in s["CSP"]
    assert "img-src 'self' data: blob: https://objects.example:9000;" in s["CSP"]
    assert "connect-src 'self';" in s["CSP"]


def test_without_credentials_boto3_finds_its_own(tmp_path):
    s = read_settings(tmp_path, DEBUG="1", STORAGE_BACKEND="s3", STORAGE_S3_BUCKET="trailers")
    assert s["STORAGE_OPTIONS"]["access_key"] is None and s["STORAGE_OPTIONS"]["endpoint_url"] is None
    assert "media-src 'self' blob: https://*.amazonaws.com;" in s["CSP"]


def test_the_filesystem_is_the_default_and_its_files_go_through_django(tmp_path):
    s = read_settings(tmp_path, DEBUG="1")
    assert s["STORAGE"] == "django.core.files.storage.FileSystemStorage"
    assert s["MEDIA_SERVE"] == ["django", "/protected-media/"]
    assert "media-src 'self' blob:;" in s["CSP"]
    assert s["CACHE"] == [str(tmp_path / "var" / "cache"), 20 * 1024**3]
    s = read_settings(tmp_path, DEBUG="1", MEDIA_SERVE="x-accel-redirect", MEDIA_ACCEL_PREFIX="internal/media")
    assert s["MEDIA_SERVE"] == ["x-accel-redirect", "/internal/media/"]


@pytest.mark.parametrize(("variables", "words"), [
    ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND=s3 needs STORAGE_S3_BUCKET"),
    ({"MEDIA_SERVE": "sendfile"}, "MEDIA_SERVE must be django, x-accel-redirect or x-sendfile"),
    ({"EMBEDDING_SIZE": "50"}, "EMBEDDING_SIZE must be a multiple of 16, at least 32 (the encoder halves the picture "
                               "five times), not 50."),
    ({"EMBEDDING_SIZE": "0"}, "EMBEDDING_SIZE must be a multiple of 16, at least 32"),
])
def test_a_setting_made_wrong_is_a_clear_startup_error(tmp_path, variables, words):
    result = run_settings(tmp_path, DEBUG="1", **variables)
    assert result.returncode != 0 and words in result.stderr


def test_one_scheduler_sends_the_sweep_and_a_video_worker_runs_it(tmp_path):
    s = read_settings(tmp_path, DEBUG="1", SWEEP_INTERVAL_SECONDS="15")
    assert s["BEAT"] == {"sweep": {"task": "trailers.tasks.sweep_task", "schedule": 15.0}}
    assert s["ROUTES"]["trailers.tasks.sweep_task"]["queue"] == "video"


def test_every_variable_the_settings_read_is_documented_and_in_the_deployment_example():
    import re

    read = set()
    for source in ("config/settings.py", "config/storage.py"):
        text = (ROOT / source).read_text()
        read |= set(re.findall(r'env\.\w+\("([A-Z0-9_]+)"', text)) | set(re.findall(r'environ\.get\("([A-Z0-9_]+)"', text))
    assert {"STORAGE_BACKEND", "STORAGE_S3_BUCKET", "WORKER_CACHE_DIR", "MEDIA_SERVE"} <= read  # the search works
    example = (ROOT / "deploy" / "reelscore.env.example").read_text()
    in_example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert read - in_example == set(), "missing from deploy/reelscore.env.example"
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Deploying")]
    assert {name for name in read if f"`{name}`" not in table} == set(), "missing from the README's table"


def systemd_environment(text: str) -> dict[str, str]:
    """An EnvironmentFile= as systemd reads it: every line that is not a comment is NAME=value, and the value is
    everything after the "=" (an inline "# comment" included; only surrounding whitespace goes)."""
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_the_deployment_example_loads_as_systemd_reads_it_and_matches_nginx(tmp_path):
    """Each machine loads deploy/reelscore.env.example through systemd's EnvironmentFile=, which keeps an inline
    comment in the value: WORKER_CACHE_MAX_BYTES="107374182400   # 100 GB ..." stopped every machine. And nginx
    serves /static/ and /protected-media/ from the folders the settings then use."""
    import re

    example = systemd_environment((ROOT / "deploy" / "reelscore.env.example").read_text())
    assert not [f"{k}={v}" for k, v in example.items() if "#" in v], "a comment after a value"
    s = read_settings(tmp_path, **{**example, "SECURE_SSL_REDIRECT": "0"})
    assert s["DEBUG"] is False and s["STORAGE"] == "storages.backends.s3.S3Storage"
    assert s["CACHE"] == ["/var/cache/reelscore", 107374182400]
    nginx = (ROOT / "deploy" / "nginx" / "reelscore.conf").read_text()
    aliases = dict(re.findall(r"location (/[\w-]+/) \{[^}]*?alias (\S+?)/?;", nginx))
    assert aliases["/static/"] == example["STATIC_ROOT"] and aliases["/protected-media/"] == s["MEDIA_ROOT"]
    # nginx drops an X-Accel-Redirect answer's other headers: the media location says these two again.
    media = re.search(r"location /protected-media/ \{([^}]*)\}", nginx).group(1)
    assert "add_header Content-Security-Policy sandbox always;" in media
    assert "add_header X-Content-Type-Options nosniff always;" in media


def test_the_worker_units_name_their_nodes_as_celery_can():
    """systemd turns "%%" into "%" and "%i" into the instance: the worker then gets -n video@%h, which Celery fills
    with the host name ("%H", which it does not know, stopped both workers at start)."""
    import re

    from celery.utils.nodenames import host_format

    units = ROOT / "deploy" / "systemd"
    for unit in ("reelscore-video.service", "reelscore-gpu@.service"):
        start = re.search(r"^ExecStart=(.*)$", (units / unit).read_text(), re.MULTILINE).group(1)
        name = re.search(r" -n (\S+)", start).group(1).replace("%%", "%").replace("%i", "0")
        assert host_format(name, host="gpu-box-1").endswith("@gpu-box-1"), unit
    web = (units / "reelscore-web.service").read_text()
    assert not any("migrate" in line for line in re.findall(r"^ExecStart\S*=(.*)$", web, re.MULTILINE))  # once
    migrate = (units / "reelscore-migrate.service").read_text()
    assert "Type=oneshot" in migrate and "manage.py migrate --noinput" in migrate and "[Install]" not in migrate


@pytest.mark.django_db
def test_a_refusal_the_client_caused_is_logged_in_one_line_without_a_traceback(user_client, caplog):
    from config.logs import ClientErrorsInOneLine

    assert user_client.get("/raters/").status_code == 403  # a user without the permission to view ratings
    [record] = [r for r in caplog.records if r.name == "django.request"]  # once, not once per handler
    assert record.getMessage() == "Forbidden (Permission denied): /raters/" and record.exc_info is None
    # A server error keeps its traceback.
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failure = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /", None,
                                    sys.exc_info())
    failure.status_code = 500
    assert ClientErrorsInOneLine().filter(failure) and failure.exc_info is not None


def test_a_command_without_its_secret_key_says_so_in_a_line_not_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", REELSCORE_VAR_DIR=str(tmp_path / "var"))
    result = subprocess.run([sys.executable, "manage.py", "sweep"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("manage.py: SECRET_KEY is not set.") and "Traceback" not in result.stderr
