"""Benchmark: media in an object store (issue 12's targets), against a real S3 server on 127.0.0.1.

Run by hand, not by the tests::

    .venv/bin/python -m bench.objectstore                      # upload memory and preprocessing
    .venv/bin/python -m bench.objectstore --parts upload --upload-mb 1024
    .venv/bin/python -m bench.objectstore --parts preprocess --repeat 3 --keep bench/out/objectstore

- **upload**: the web process's peak memory while a person uploads a 1 GB trailer to the store. A real
  gunicorn (one sync worker, production settings but for HTTPS) serves the upload endpoint the page's
  script posts to, with STORAGE_BACKEND=s3; the client streams a 1 GB MP4 (a 1080p clip repeated with
  stream copy) as one multipart request. Reported: the gunicorn worker's resident memory before, and its
  peak (VmHWM) over the whole request (streaming in, hashing, probing, the multipart upload to the store),
  the request's time, and that the object in the store has the file's size and the trailer is queued.
- **preprocess**: a 2-minute 1080p trailer (bench.preprocess's generator) preprocessed by the service a
  worker runs (`preprocess_trailer`: sampling, embeddings, contact sheets, writing, recording), from a local
  folder and from the store, each in a fresh process with the frame encoder loaded before the clock starts;
  then the same trailer again on the same machine (its cache kept): that run must download nothing. Best of
  ``--repeat`` runs each.

The S3 server is SeaweedFS (tests/objectstore/s3server.py, from requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tests.support.processes import stop_process

ROOT = Path(__file__).resolve().parents[1]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# --------------------------------------------------------------------------- environment


def base_env(var: Path, storage: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STORAGE_", "DATABASE_", "CELERY_", "MEDIA_", "WORKER_CACHE", "SAMPLING_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "REELSCORE_VAR_DIR": str(var),
                "SECRET_KEY": "bench-only-secret-key-0123456789-0123456789-0123456789", "DEBUG": "0",
                "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0",
                "CSRF_COOKIE_SECURE": "0", "SECURE_HSTS_SECONDS": "0", "WORKER_CACHE_DIR": str(var / "cache"),
                "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", "TMPDIR": str(var / "tmp"),
                "STATIC_ROOT": str(var / "static"), **storage})
    (var / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            input=stdin, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {result.stderr[-3000:]}")
    return result.stdout


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------- upload


def make_big_video(path: Path, megabytes: int) -> Path:
    """An MP4 of at least ``megabytes``: a 10 s noisy 1080p clip at 40 Mb/s, repeated by stream copy."""
    if path.exists() and path.stat().st_size >= megabytes * 1024 * 1024:
        return path
    clip = path.with_name("clip.mp4")
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1920x1080:rate=24:duration=10,noise=alls=40:allf=t", "-c:v", "libx264",
                    "-preset", "ultrafast", "-b:v", "40M", "-pix_fmt", "yuv420p", str(clip)], check=True)
    loops = max(0, -(-megabytes * 1024 * 1024 // clip.stat().st_size) - 1)
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", str(loops), "-i",
                    str(clip), "-c", "copy", "-movflags", "+faststart", str(path)], check=True)
    clip.unlink()
    return path


class MultipartFile:
    """A multipart/form-data body with one file, read from disk a megabyte at a time (never whole in memory)."""

    def __init__(self, path: Path, field: str = "file"):
        self.boundary = uuid.uuid4().hex
        self.head = (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                     f"filename=\"{path.name}\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.path = path
        self.length = len(self.head) + path.stat().st_size + len(self.tail)

    def chunks(self):
        yield self.head
        with open(self.path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk
        yield self.tail


def bench_upload(server, work: Path, megabytes: int) -> dict:
    import requests

    var = work / "upload-var"
    shutil.rmtree(var, ignore_errors=True)
    env = base_env(var, server.storage_env(f"bench-upload-{uuid.uuid4().hex[:6]}"))
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")  # DEBUG is off, as in production: pages need the manifest
    manage(env, "shell", "-c", "from django.contrib.auth.models import User; "
                               "User.objects.create_user('bench', password='bench-pass-123')")
    video = make_big_video(work / f"upload-{megabytes}mb.mp4", megabytes)
    port = 18000 + os.getpid() % 1000
    log = open(var / "gunicorn.log", "wb")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                            "--workers", "1", "--timeout", "900"], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        session = requests.Session()
        for _ in range(300):
            try:
                session.get(f"{url}/accounts/login/", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.1)
        token = session.cookies["csrftoken"]
        session.post(f"{url}/accounts/login/", data={"username": "bench", "password": "bench-pass-123",
                                                     "csrfmiddlewaretoken": token}, headers={"Referer": url})
        session.get(f"{url}/upload/")  # the page, as a person opens it first
        worker_pid = int(Path(f"/proc/{web.pid}/task/{web.pid}/children").read_text().split()[0])
        before = status_kb(worker_pid, "VmRSS")
        peak_seen = [before]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak_seen[0] = max(peak_seen[0], status_kb(worker_pid, "VmRSS"))
                time.sleep(0.02)

        threading.Thread(target=watch, daemon=True).start()
        body = MultipartFile(video)
        cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        started = time.perf_counter()
        conn.putrequest("POST", "/api/trailers/")
        for name, value in {"Content-Type": f"multipart/form-data; boundary={body.boundary}",
                            "Content-Length": str(body.length), "Cookie": cookies,
                            "X-CSRFToken": session.cookies["csrftoken"], "Referer": url}.items():
            conn.putheader(name, value)
        conn.endheaders()
        for chunk in body.chunks():
            conn.send(chunk)
        response = conn.getresponse()
        answer = json.loads(response.read() or b"{}")
        seconds = time.perf_counter() - started
        done.set()
        peak = status_kb(worker_pid, "VmHWM")
        stored = server.client().list_objects_v2(Bucket=server.bucket, Prefix=env["STORAGE_S3_PREFIX"])
        sizes = [o["Size"] for o in stored.get("Contents", [])]
        return {"status": response.status, "answer": answer, "file_mb": video.stat().st_size / 2**20,
                "seconds": seconds, "rss_before_mb": before / 1024, "peak_rss_mb": max(peak, peak_seen[0]) / 1024,
                "stored_sizes": sizes, "stored_ok": sizes == [video.stat().st_size]}
    finally:
        stop_process(web, timeout=30)
        log.close()


# --------------------------------------------------------------------------- preprocessing


CHILD = r"""
import json, os, sys, time
import django
django.setup()
import numpy as np
from django.core.management import call_command
from trailers.models import Trailer
from trailers.services import ingest_trailer, preprocess_trailer, request_preprocessing
from trailers.services.embeddings import embedding_spec
from ml.embeddings import embed_subclip

call_command("migrate", verbosity=0)
embed_subclip(np.zeros((2, 112, 112, 3), np.uint8), embedding_spec())  # the encoder loaded before the clock
source = sys.argv[1]
trailer = Trailer.objects.first()
if trailer is None:
    trailer = ingest_trailer(source=source, original_name=os.path.basename(source))
else:
    request_preprocessing(trailer_ids=[trailer.pk])
from trailers import store
cache = None if store.is_local() else store.worker_cache()
if cache is not None:
    cache.reset_stats()
started = time.perf_counter()
done = preprocess_trailer(trailer_id=trailer.pk)
seconds = time.perf_counter() - started
stats = cache.reset_stats() if cache is not None else None
print(json.dumps({"seconds": seconds, "status": done.status, "error": done.error,
                  "subclips": done.subclips.count(),
                  "hits": stats.hits if stats else None, "misses": stats.misses if stats else None,
                  "downloaded_mb": stats.downloaded_bytes / 2**20 if stats else None}))
"""


def preprocess_once(env: dict[str, str], source: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(source)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    out = json.loads(result.stdout.strip().splitlines()[-1])
    if out["status"] != "ready":
        raise RuntimeError(f"preprocessing failed: {out['error']}")
    return out


def bench_preprocess(server, work: Path, repeat: int) -> dict:
    from bench.preprocess import make_trailer

    source = work / "trailer-1080p-120s.mp4"
    if not source.exists():
        make_trailer(source, 1920, 1080, 120.0, 24, "veryfast", None)
    sampling = {"SAMPLING_N_SUBCLIPS": "3", "SAMPLING_SUBCLIP_DURATION": "30", "SAMPLING_OFFSET": "10"}
    results: dict[str, list[dict]] = {"local disk": [], "store, first run": [], "store, second run": []}
    for i in range(repeat):
        local = work / f"local-{i}"
        shutil.rmtree(local, ignore_errors=True)
        results["local disk"].append(preprocess_once({**base_env(local, {"STORAGE_BACKEND": "filesystem"}),
                                                      **sampling}, source))
        remote = work / f"store-{i}"
        shutil.rmtree(remote, ignore_errors=True)
        env = {**base_env(remote, server.storage_env(f"bench-preprocess-{uuid.uuid4().hex[:6]}")), **sampling}
        results["store, first run"].append(preprocess_once(env, source))
        results["store, second run"].append(preprocess_once(env, source))  # same machine, same cache
    return {"source_mb": source.stat().st_size / 2**20,
            "best": {k: min(v, key=lambda r: r["seconds"]) for k, v in results.items()},
            "all": {k: [round(r["seconds"], 2) for r in v] for k, v in results.items()}}


# --------------------------------------------------------------------------- main


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["upload", "preprocess"], choices=["upload", "preprocess"])
    parser.add_argument("--upload-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the generated videos here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.objectstore.s3server import S3Server

    work = args.keep or Path(tempfile.mkdtemp(prefix="reelscore-objectstore-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    server = S3Server(work / "s3", bucket="bench").start()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; S3: SeaweedFS at {server.endpoint}; "
          f"load average before: {load:.2f}")
    try:
        if "upload" in args.parts:
            r = bench_upload(server, work, args.upload_mb)
            print(f"\nupload of {r['file_mb']:.0f} MB through gunicorn to the store: HTTP {r['status']} "
                  f"({r['answer'].get('code') or r['answer'].get('message')}), {r['seconds']:.1f} s")
            print(f"  web worker resident memory: {r['rss_before_mb']:.0f} MB before, peak {r['peak_rss_mb']:.0f} MB "
                  f"during the upload (target: under 150 MB)")
            print(f"  in the store: {r['stored_sizes']} bytes ({'the whole file' if r['stored_ok'] else 'WRONG'})")
        if "preprocess" in args.parts:
            r = bench_preprocess(server, work, args.repeat)
            local = r["best"]["local disk"]["seconds"]
            print(f"\npreprocessing a 2-minute 1080p trailer ({r['source_mb']:.0f} MB), best of {args.repeat}:")
            print(f"{'where':20} {'seconds':>8} {'× local':>8} {'hits':>5} {'misses':>6} {'downloaded':>11}")
            for name, best in r["best"].items():
                downloaded = "-" if best["downloaded_mb"] is None else f"{best['downloaded_mb']:.1f} MB"
                print(f"{name:20} {best['seconds']:8.2f} {best['seconds'] / local:7.2f}× "
                      f"{best['hits'] if best['hits'] is not None else '-':>5} "
                      f"{best['misses'] if best['misses'] is not None else '-':>6} {downloaded:>11}")
            print(f"  every run: {r['all']}")
    finally:
        server.stop()
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
