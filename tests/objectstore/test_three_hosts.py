"""Three hosts that share no folder: a web host (gunicorn and the scheduler), a CPU video worker and a GPU
worker (solo pool, as deployed), each in its own network namespace where the machine allows, with its own
media, cache and temporary folders. PostgreSQL, Redis and the S3 server are all they have in common.

A person uploads trailers, rates them, trains from the admin, activates the version, and plays a trailer
through its presigned URL (Range answered by the store); then the faults: the S3 server stopped while a
trailer is preprocessed, a worker's cache folder deleted mid-run, and a GPU worker SIGKILLed mid-run, whose
run another GPU worker (another host, another cache) resumes from the checkpoint in the store.

These need PostgreSQL and Redis (DATABASE_URL, CELERY_BROKER_URL: the embedded default's SQLite file and
broker folder would be a shared folder) and the S3 server; without them they skip with the reason, unless
REELSCORE_REQUIRE_S3=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.objectstore.hosts import Network
from tests.support.object_store import unavailable
from tests.support.processes import SchedulerProcess, WorkerProcess, wait_for
from tests.support.run_options import TINY_RUN, run_form_data
from trailers.models import ModelVersion, Prediction, Subclip, Trailer, TrainingRun

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

WEB_PORT = 8012


class WebHost(WorkerProcess):
    """gunicorn serving the site (two worker processes), as in production."""

    ready_line = "Booting worker"

    def __init__(self, env, log_dir: Path, host):
        super().__init__(env, log_dir, "web", prefix=host.prefix(), argv=[
            sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"{host.address}:{WEB_PORT}",
            "--workers", "2", "--timeout", "120", "--access-logfile", "-"])

    def fresh_workers(self, timeout: float = 60) -> None:
        """Replace gunicorn's workers with new ones (its graceful reload, SIGHUP to the master): each test's database
        is flushed and filled again, so an id a worker remembers from a test before (Django caches content types:
        the admin's history names one) may name no row now. A deployed site's rows are never flushed under it."""
        booted = self.log().count("Booting worker")
        os.kill(self.process.pid, signal.SIGHUP)
        wait_for(lambda: self.log().count("Booting worker") >= booted + 2, timeout=timeout,
                 message="gunicorn's new workers")


@pytest.fixture(scope="module")
def cluster(s3_server, django_db_setup, django_db_blocker, tmp_path_factory):
    from django.conf import settings
    from django.db import connection

    database = connection.settings_dict
    broker = urlsplit(settings.CELERY_BROKER_URL)
    if not database["ENGINE"].endswith("postgresql") or broker.scheme != "redis":
        unavailable("the three-host test needs PostgreSQL and Redis (DATABASE_URL, CELERY_BROKER_URL): the "
                    "embedded default's database file and broker folder would be a folder the hosts share")
    net = Network()
    if not net.isolated:
        warnings.warn(f"three hosts as plain processes on 127.0.0.1, not network namespaces: {net.why_not}",
                      stacklevel=1)
    pg_port, redis_port = int(database["PORT"] or 5432), broker.port or 6379
    services = [pg_port, redis_port, s3_server.port]
    root = tmp_path_factory.mktemp("three-hosts")
    processes: list[WorkerProcess] = []

    def environment(host) -> dict[str, str]:
        folder = root / host.name
        for sub in ("var", "media", "cache", "tmp", "static"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("STORAGE_", "DATABASE_", "CELERY_", "REELSCORE_VAR", "MEDIA_", "WORKER_CACHE"))}
        auth = database["USER"] + (f":{database['PASSWORD']}" if database.get("PASSWORD") else "")
        env.update({
            "DJANGO_SETTINGS_MODULE": "config.test_settings", "PYTHONUNBUFFERED": "1",
            "REELSCORE_VAR_DIR": str(folder / "var"), "MEDIA_ROOT": str(folder / "media"),
            "WORKER_CACHE_DIR": str(folder / "cache"), "TMPDIR": str(folder / "tmp"),
            "STATIC_ROOT": str(folder / "static"),
            "DATABASE_URL": f"postgres://{auth}@{host.gateway}:{host.ports[pg_port]}/{database['NAME']}",
            "CELERY_BROKER_URL": f"redis://{host.gateway}:{host.ports[redis_port]}{broker.path or '/0'}",
            "ALLOWED_HOSTS": f"{host.address},localhost,127.0.0.1",
            **s3_server.storage_env("three-hosts"),
            "STORAGE_S3_ENDPOINT_URL": f"http://{host.gateway}:{host.ports[s3_server.port]}",
        })
        return env

    def start(name: str, kind: str):
        host = net.add_host(name, services)
        env = environment(host)
        log_dir = root / name
        if kind == "web":
            started = [WebHost(env, log_dir, host), SchedulerProcess(env, log_dir, prefix=host.prefix())]
        elif kind == "video":
            started = [WorkerProcess(env, log_dir, name, queues="video", prefix=host.prefix())]
        else:  # a GPU worker as deployed: solo pool (CUDA is never initialised before a fork: there is none)
            started = [WorkerProcess(env, log_dir, name, queues="gpu", pool="solo", prefix=host.prefix())]
        processes.extend(started)
        for process in started:
            process.wait_ready(timeout=120)
        return host, env, started

    from config.celery import app

    with app.connection_for_write() as conn:  # no message left from another test module
        for queue in ("video", "gpu"):
            conn.default_channel.queue_purge(queue)
    try:
        hosts = {"net": net, "root": root, "start": start, "s3": s3_server}
        hosts["web"], hosts["web_env"], (hosts["gunicorn"], hosts["scheduler"]) = start("web", "web")
        hosts["video"], _, (hosts["video_worker"],) = start("video", "video")
        hosts["gpu"], _, (hosts["gpu_worker"],) = start("gpu", "gpu")
        hosts["url"] = f"http://{hosts['web'].address}:{WEB_PORT}"
        wait_for(lambda: _answers(hosts["url"]), timeout=60, message="the web host to answer")
        yield hosts
    finally:
        for process in processes:
            process.stop()
        net.close()


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/accounts/login/", timeout=5).status_code == 200
    except requests.RequestException:
        return False


class Browser:
    """What a person's browser does against the web host: a session, forms with their CSRF token."""

    def __init__(self, url: str):
        import requests

        self.url, self.session = url, requests.Session()

    def get(self, path: str, **kwargs):
        return self.session.get(self.url + path, timeout=60, **kwargs)

    def post(self, path: str, data=None, files=None, **kwargs):
        if "csrftoken" not in self.session.cookies:
            self.get("/accounts/login/")
        data = dict(data or {}, csrfmiddlewaretoken=self.session.cookies["csrftoken"])
        return self.session.post(self.url + path, data=data, files=files, timeout=120,
                                 headers={"X-CSRFToken": self.session.cookies["csrftoken"], "Referer": self.url},
                                 **kwargs)

    def log_in(self, username: str, password: str) -> None:
        response = self.post("/accounts/login/", {"username": username, "password": password}, allow_redirects=False)
        assert response.status_code == 302, response.text[:2000]


@pytest.fixture
def person(cluster, django_user_model):
    cluster["gunicorn"].fresh_workers()
    wait_for(lambda: _answers(cluster["url"]), timeout=60, message="the web host to answer")
    django_user_model.objects.create_superuser(username="curator", password="curator-pass-123",
                                               email="curator@example.com")
    browser = Browser(cluster["url"])
    browser.log_in("curator", "curator-pass-123")
    return browser


def upload(browser: Browser, paths) -> list[Trailer]:
    trailers = []
    for path in paths:
        with open(path, "rb") as handle:
            response = browser.post("/api/trailers/", files={"file": (path.name, handle, "video/mp4")})
        assert response.status_code == 201, response.text
        trailers.append(Trailer.objects.get(pk=response.json()["id"]))
    return trailers


def wait_ready(trailers, timeout: float = 120) -> list[Trailer]:
    ids = [t.pk for t in trailers]

    def done():
        rows = sorted(Trailer.objects.filter(pk__in=ids), key=lambda t: ids.index(t.pk))  # in upload order
        return rows if all(t.status in (Trailer.Status.READY, Trailer.Status.FAILED) for t in rows) else None

    rows = wait_for(done, timeout=timeout, message=f"trailers {ids} to be processed")
    assert all(t.status == Trailer.Status.READY for t in rows), [(t.pk, t.error) for t in rows]
    return rows


def delete_under_a_worker(folder: Path) -> None:
    """Delete ``folder`` while a worker writes in it: a file it renames or removes between rmtree's listing and
    its unlink is gone already, and a folder it adds a file to meanwhile is emptied again."""
    def gone_already(function, path, exc_info):
        if not isinstance(exc_info[1], FileNotFoundError):
            raise exc_info[1]

    for attempt in range(20):
        try:
            shutil.rmtree(folder, onerror=gone_already)
            return
        except OSError:  # not empty: the worker wrote a file after the listing
            if attempt == 19:
                raise
            time.sleep(0.05)


def start_run(browser: Browser, **fields) -> TrainingRun:
    data = run_form_data("scratch", **{**TINY_RUN, **fields})
    response = browser.post("/admin/trailers/trainingrun/add/", data, allow_redirects=False)
    assert response.status_code == 302, response.text[:3000]
    run = TrainingRun.objects.latest("pk")
    assert response.headers["Location"] == f"/runs/{run.pk}/"
    return run


def wait_run(run: TrainingRun, predicate, timeout: float, message: str) -> TrainingRun:
    def check():
        run.refresh_from_db()
        return run if predicate(run) else None

    return wait_for(check, timeout=timeout, interval=0.05, message=message)


def missing_objects(s3_server) -> list[str]:
    """Stored names the rows point at that the store does not hold."""
    keys = {k.removeprefix("three-hosts/") for k in s3_server.keys("three-hosts/")}
    names = set(Trailer.objects.values_list("file", flat=True)) | set(
        Trailer.objects.exclude(browser_copy="").values_list("browser_copy", flat=True))
    for frames, sheet, embeddings in Subclip.objects.values_list("frames", "contact_sheet", "embeddings"):
        names |= {frames, sheet, embeddings} - {""}
    names |= set(ModelVersion.objects.values_list("weights", flat=True))
    return sorted(names - keys)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --------------------------------------------------------------------------- the whole flow


def test_upload_train_activate_score_and_play_across_three_hosts(cluster, person, synthetic_trailers):
    started = time.monotonic()
    made = synthetic_trailers[:4]
    trailers = wait_ready(upload(person, [t.path for t in made]))
    for trailer, truth in zip(trailers, made, strict=True):
        response = person.post(f"/trailers/{trailer.pk}/rating/", {"score": max(1, min(10, round(truth.rating)))})
        assert response.status_code == 200

    # Train from the admin; mid-run, the GPU worker's cache folder is deleted under it.
    gpu_cache = cluster["root"] / "gpu" / "cache"
    run = start_run(person, train__epochs=12, train__folds=2)
    run = wait_run(run, lambda r: len(r.metrics) >= 3 or r.is_finished, 120, "three epochs")
    fetched_before = set(re.findall(r"cache miss: (\S+),", cluster["gpu_worker"].log()))
    assert any(name.startswith("subclips/") for name in fetched_before)
    delete_under_a_worker(gpu_cache)
    run = wait_run(run, lambda r: r.is_finished, 180, "the run to finish")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert "gpu@" in run.worker and run.device == "cpu" and run.gpu == ""  # no GPU on this machine
    version = ModelVersion.objects.get(run=run)

    # Activate it in the admin: every trailer is scored, on the GPU worker.
    response = person.post("/admin/trailers/modelversion/", {"action": "activate", "_selected_action": [version.pk]})
    assert response.status_code == 200 and "is now active" in response.text
    wait_for(lambda: Prediction.objects.filter(model_version=version).count() == len(trailers), timeout=120,
             message="every trailer scored")
    # The task logs its cache use once it has returned, a moment after its predictions are written.
    wait_for(lambda: "cache after score_trailers_task:" in cluster["gpu_worker"].log(), timeout=30,
             message="the scoring task's cache line")
    gpu_log = cluster["gpu_worker"].log()
    # What the deleted cache held was fetched again: each frame file missed a second time.
    refetched = [name for name in fetched_before if gpu_log.count(f"cache miss: {name},") >= 2]
    assert refetched, "nothing was fetched again after the cache folder went"

    # The trailer page plays the video: the player's URL sends the browser to the store, which answers ranges.
    trailer = trailers[0]
    page = person.get(f"/trailers/{trailer.pk}/")
    assert f'src="/trailers/{trailer.pk}/video/"' in page.text
    redirect = person.get(f"/trailers/{trailer.pk}/video/", allow_redirects=False)
    assert redirect.status_code == 302 and "X-Amz-Signature=" in redirect.headers["Location"]
    import requests

    trailer.refresh_from_db()
    server = cluster["s3"]
    played = server.client().get_object(Bucket=server.bucket, Key=f"three-hosts/{(trailer.browser_copy or trailer.file).name}")
    expected = played["Body"].read()  # the MP4 copy browsers play, where the trailer has one, else its file
    video = requests.get(redirect.headers["Location"], headers={"Range": "bytes=1000-2023"}, timeout=30)
    assert video.status_code == 206 and video.content == expected[1000:2024]
    assert video.headers["Content-Range"] == f"bytes 1000-2023/{len(expected)}"
    download = requests.get(person.get(f"/trailers/{trailer.pk}/original/", allow_redirects=False).headers["Location"],
                            timeout=30)
    assert download.content == made[0].path.read_bytes()  # the original, byte for byte
    assert download.headers["Content-Disposition"] == f'attachment; filename="{made[0].path.name}"'
    sheet = requests.get(person.get(f"/trailers/{trailer.pk}/thumbnail.jpg", allow_redirects=False)
                         .headers["Location"], timeout=30)
    assert sheet.status_code == 200 and sheet.content[:2] == b"\xff\xd8"
    assert requests.get(redirect.headers["Location"].replace("X-Amz-Signature=", "X-Amz-Signature=0"),
                        timeout=30).status_code == 403  # the bucket is private: only signed URLs open

    # The run page shows its curves.
    run_page = person.get(f"/runs/{run.pk}/").text
    assert "Succeeded" in run_page and run_page.count("<polyline") >= 2 and "Loss" in run_page

    # Nothing shared: the web host kept no media (the uploads waited in its MEDIA_ROOT/incoming while they were
    # checked, and went); each worker fetched what it read into its own cache.
    assert files_under(cluster["root"] / "web" / "media") == []
    assert files_under(cluster["root"] / "web" / "tmp") == []  # not the system's temporary folder
    assert f"cache miss: {trailer.file.name}," in cluster["video_worker"].log()
    assert missing_objects(cluster["s3"]) == []
    if cluster["net"].isolated:  # the hosts reach the services, not one another
        probe = ("import socket,sys; s=socket.socket(); s.settimeout(2); "
                 "sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))))")
        video_host = cluster["video"]
        assert video_host.run(sys.executable, "-c", probe, cluster["web"].address, str(WEB_PORT)).returncode != 0
        assert video_host.run(sys.executable, "-c", probe, video_host.gateway,
                              str(video_host.ports[cluster["s3"].port])).returncode == 0
    print(f"three-host flow: {time.monotonic() - started:.1f} s")


# --------------------------------------------------------------------------- faults


def test_the_store_stopped_while_preprocessing_then_the_trailer_ends_ready(cluster, person, tmp_path):
    from ml.synth import generate_trailer

    # An AVI (browsers cannot play it): preprocessing also makes a copy, which gives it time to be caught.
    video = generate_trailer(tmp_path / "outage.avi", seed=21, duration=40.0, fps=24, width=320, height=240)
    [trailer] = upload(person, [video.path])
    wait_for(lambda: Trailer.objects.get(pk=trailer.pk).status == Trailer.Status.PROCESSING, timeout=60,
             interval=0.02, message="preprocessing to start")
    server = cluster["s3"]
    server.stop()
    try:
        # The store stays down until the worker has run into it; meanwhile the page says the trailer waits.
        wait_for(lambda: "waits for the object store" in cluster["video_worker"].log(), timeout=180,
                 message="the video worker to find the store down")
        waiting = Trailer.objects.get(pk=trailer.pk)
        assert waiting.status in (Trailer.Status.QUEUED, Trailer.Status.PROCESSING)  # never failed for it
        page = person.get(f"/trailers/{trailer.pk}/live/").text
        assert waiting.status != Trailer.Status.QUEUED or "Waiting for the object store" in page
    finally:
        server.start()
    [done] = wait_ready([trailer], timeout=180)
    assert done.error == "" and done.subclips.count() == 3 and done.browser_copy
    assert missing_objects(server) == []
    # Nothing of the interrupted attempt stayed: only the folder the rows name.
    folders = {k.split("/")[3] for k in server.keys(f"three-hosts/subclips/{trailer.pk}/")}
    assert folders == {Path(done.subclips.first().frames.name).parent.name}


def test_a_gpu_worker_killed_mid_run_is_resumed_by_another_from_the_store(cluster, person, synthetic_trailers):
    trailers = wait_ready(upload(person, [t.path for t in synthetic_trailers[4:8]]))
    for trailer, truth in zip(trailers, synthetic_trailers[4:8], strict=True):
        person.post(f"/trailers/{trailer.pk}/rating/", {"score": max(1, min(10, round(truth.rating)))})
    run = start_run(person, train__epochs=25, train__folds=2)
    run = wait_run(run, lambda r: len(r.metrics) >= 2 or r.is_finished, 120, "two finished epochs")
    cluster["gpu_worker"].kill()  # SIGKILL, worker and all: no clean-up of any kind
    run.refresh_from_db()
    killed_at = len(run.metrics)
    assert run.status == TrainingRun.Status.RUNNING and killed_at < 50
    assert cluster["s3"].keys(f"three-hosts/runs/{run.pk}/cv/")  # its checkpoints are in the store

    # Another GPU host, with nothing of the first's: it gets the run once it shows as stale.
    _, _, (second,) = cluster["start"]("gpu2", "gpu")
    run = wait_run(run, lambda r: r.is_finished, 240, "the run to be resumed and finish")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert "gpu2@" in run.worker
    assert run.resumed_from_epoch is not None and 1 <= run.resumed_from_epoch <= killed_at
    assert [(m["fold"], m["epoch"]) for m in run.metrics] == [(f, e) for f in (1, 2) for e in range(1, 26)]
    assert "resuming from" in second.log() and "cache miss: subclips/" in second.log()
    # The finished run's checkpoints go once its end is committed (so a moment after it shows as succeeded).
    wait_for(lambda: cluster["s3"].keys(f"three-hosts/runs/{run.pk}/") == [], timeout=30,
             message="the finished run's checkpoints to go from the store")
    assert missing_objects(cluster["s3"]) == []


def test_a_browser_plays_the_trailer_from_the_store(cluster, person, synthetic_trailers, monkeypatch):
    """Chromium, as a person: the page's player loads the video from the store (ranges, answered 206) and the
    Content-Security-Policy lets it, and nothing else new."""
    from tests.support.browser import CHROMIUM_ARGS, log_in, require_browser, wait_in_page

    require_browser()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread beside the ORM
    [trailer] = wait_ready(upload(person, [synthetic_trailers[0].path]))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = chromium.new_context(base_url=cluster["url"]).new_page()
        refused, from_store = [], []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        endpoint = f"{cluster['web'].gateway}:{cluster['web'].ports[cluster['s3'].port]}"
        page.on("response", lambda r: from_store.append(r.status) if endpoint in r.url else None)
        log_in(page, "curator", "curator-pass-123")
        page.goto(f"/trailers/{trailer.pk}/")
        wait_in_page(page, "document.querySelector('video.player').readyState >= 1")
        duration = page.evaluate("document.querySelector('video.player').duration")
        wait_in_page(page, "[...document.querySelectorAll('.subclip img')].every(i => i.complete && "
                           "i.naturalWidth > 0)")  # contact sheets, from the store too
        chromium.close()
    assert duration == pytest.approx(trailer.duration, abs=0.5)
    assert 206 in from_store  # the store answered the player's range requests
    assert refused == []
