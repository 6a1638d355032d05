"""Benchmark: every page and API list at 10,000 and 50,000 trailers (about 100 ratings each), in PostgreSQL.

Run by hand, not by the tests (about 15–25 minutes on 2 CPU cores, most of it building 5 million ratings)::

    .venv/bin/python -m bench.scale                                  # 10k and 50k trailers
    .venv/bin/python -m bench.scale --sizes 10000 --requests 10      # a quicker look
    .venv/bin/python -m bench.scale --keep                           # reuse databases built by an earlier run

It needs a PostgreSQL server it may create databases on (``--server``, default
``postgres://postgres@127.0.0.1:5432``; each size gets its own database, ``reelscore_scale_<size>``, dropped
and built again unless ``--keep``), and, for the sweep, the broker in ``--broker`` (default Redis database 11
on 127.0.0.1; without Redis, a filesystem broker in a temporary folder). Nothing else: the load generator is
Python's own ``http.client``.

For each size it:

1. **builds** the data with ``bulk_create``: N trailers (95% ready with 3 subclips each), each rated by
   ``--ratings`` (100) of 300 people (the benchmark's user among them, so "your rating" and its sorts have
   rows), 5 training runs (each with its frozen dataset and, for the three that succeeded, a cross-validation
   estimate over every trailer: megabytes, as at scale), 3 model versions, the first two with a prediction per
   ready trailer (v2 active), and their kept prediction summaries (made by the service, timed);
2. times, **in one process against the database**, the old code beside the new where there is an old one to
   run (the seed of this benchmark: the selectors as they were before issue 15): the dataset's first and
   hundredth page by upload date and by mean rating, the predictions page's aggregates, the CSV, a run list,
   the sweep with 10,000 waiting trailers (sent to the broker), and scoring's database writes for 10,000
   trailers with the model stubbed out;
3. **serves** the app with gunicorn (2 sync workers, ``DEBUG=0``) and requests every page and API list,
   every sort, ``?page=100`` and the admin's lists, ``--requests`` times each after 2 warm-up requests, one
   at a time: p50 and p95 latency, the worker's own CPU time (p50) and the query count of each (headers added by
   this benchmark's WSGI wrapper),
   and how much the workers' resident memory grew over that URL's requests; then the CSV of every
   prediction, streamed; then a few URLs under ``--concurrency`` clients at once.

The load average is printed beside each part: other sessions share the machine, so ratios and the query counts
are more telling than the absolute times.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.processes import stop_process  # noqa: E402 - importable once ROOT is on the path

TARGET_P95_MS = 150
RATERS = 300
SUBCLIPS = 3
PAGE = 100  # the ?page= every list is also asked for


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


# --- the environment each part runs in -------------------------------------------------------------------


def database_url(server: str, name: str) -> str:
    return f"{server.rstrip('/')}/{name}"


def django_env(args, size: int, work: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=database_url(args.server, db_name(size)),
        DEBUG="0", SECRET_KEY="bench-scale-" + "x" * 40, ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="0",
        REELSCORE_VAR_DIR=str(work / "var"), MEDIA_ROOT=str(work / "media"), STATIC_ROOT=str(work / "static"),
        CELERY_BROKER_URL=args.broker_url, LOG_LEVEL="WARNING", CONN_MAX_AGE="60", PYTHONUNBUFFERED="1",
    )
    return env


def db_name(size: int) -> str:
    return f"reelscore_scale_{size}"


def setup_django() -> None:
    import django

    django.setup()


def run_part(part: str, args, size: int, work: Path) -> dict:
    """Run one part of the benchmark in its own process (its own database settings); returns its JSON."""
    out = work / f"{part}-{size}.json"
    command = [sys.executable, "-m", "bench.scale", "--part", part, "--size", str(size), "--work", str(work),
               "--ratings", str(args.ratings), "--out", str(out), "--server", args.server,
               "--broker-url", args.broker_url]
    subprocess.run(command, cwd=ROOT, env=django_env(args, size, work), check=True)
    return json.loads(out.read_text())


# --- part 1: the data --------------------------------------------------------------------------------------


SUBCLIP_SAMPLING = {"size": 112, "frames_per_subclip": 16}  # every subclip's, and the stubbed model's


def build(size: int, ratings_per_trailer: int, work: Path) -> dict:
    """Make the benchmark's rows with bulk_create; returns ids and credentials for the requests."""
    import numpy as np
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from trailers import selectors
    from trailers.models import ModelVersion, Prediction, Rating, Subclip, Trailer, TrainingRun
    from trailers.services.ratings import keep_errors
    from trailers.services.summaries import keep_prediction_summary

    rng = np.random.default_rng(15)
    started = time.perf_counter()
    now = timezone.now()
    bench_user = User.objects.create_superuser("bench", "bench@example.com", "bench-pass-123")
    people = [bench_user] + User.objects.bulk_create(
        [User(username=f"rater{i:03d}", email=f"rater{i:03d}@example.com") for i in range(1, RATERS)])
    words = ["night", "harbour", "lights", "train", "storm", "garden", "echo", "river", "glass", "winter", "fire",
             "silent", "orbit", "paper", "crown", "ghost", "summer", "last", "city", "north"]
    quality = rng.uniform(2, 9, size)
    status = rng.choice(["ready", "queued", "failed"], size, p=[0.95, 0.03, 0.02])
    scores = np.clip(np.rint(quality[:, None] + rng.normal(0, 1.5, (size, ratings_per_trailer))), 1, 10).astype(int)
    raters = np.stack([rng.choice(RATERS, ratings_per_trailer, replace=False) for _ in range(size)])
    trailers = []
    for i in range(size):
        title = f"Trailer {i:05d} {words[i % 20]} {words[(i * 7) % 20]}"
        ready = status[i] == "ready"
        trailers.append(Trailer(
            title=title, original_name=f"{title.replace(' ', '_').lower()}.mp4", file=f"trailers/bench-{i}.mp4",
            sha256=f"{i:064x}", status=str(status[i]), duration=float(rng.uniform(60, 180)), fps=24.0, width=1280,
            height=720, codec="h264", container="mp4", size_bytes=int(rng.integers(10_000_000, 90_000_000)),
            uploaded_by=people[int(rng.integers(0, RATERS))] if i % 4 else None,
            uploaded_at=now - timezone.timedelta(minutes=int(size - i)),
            reference_score=round(float(quality[i]), 1) if i % 3 == 0 else None,
            enqueued_at=now, processed_at=now if ready else None,
            error="could not decode" if status[i] == "failed" else "",
            # The counters as trailers/services/ratings.py keeps them (the ratings below, in bulk).
            rating_count=ratings_per_trailer, rating_sum=int(scores[i].sum()), mean_rating=float(scores[i].mean()),
        ))
    trailers = Trailer.objects.bulk_create(trailers, batch_size=5000)
    ready = [t for t in trailers if t.status == "ready"]
    Subclip.objects.bulk_create(
        (Subclip(trailer=t, index=k, start=10.0 + 30 * k, duration=30.0, frames=f"subclips/{t.pk}/{k}.npy",
                 frame_count=32, timestamps=[10.0 + 30 * k + j for j in range(16)],
                 contact_sheet=f"subclips/{t.pk}/{k}.jpg", sampling=SUBCLIP_SAMPLING)
         for t in ready for k in range(SUBCLIPS)), batch_size=5000)
    built = {"trailers": time.perf_counter() - started}

    started = time.perf_counter()
    chunk = max(1, 20_000 // ratings_per_trailer)
    for start in range(0, size, chunk):
        Rating.objects.bulk_create(
            (Rating(user=people[int(raters[i, k])], trailer=trailers[i], score=int(scores[i, k]))
             for i in range(start, min(size, start + chunk)) for k in range(ratings_per_trailer)),
            batch_size=10_000)
    built["ratings"] = time.perf_counter() - started

    started = time.perf_counter()
    labelled = [(t.pk, float(scores[i].mean())) for i, t in enumerate(trailers) if t.status == "ready"]
    dataset = [{"trailer": pk, "label": label, "split": "cv"} for pk, label in labelled]
    folds = 5
    estimate = {
        "folds": folds, "trailers": len(dataset),
        "summary": {role: {m: {"mean": v, "sd": 0.05} for m, v in (("mae", a), ("rmse", a * 1.25), ("spearman", s))}
                    for role, a, s in (("model", 0.9, 0.6), ("mean_baseline", 1.3, None), ("single_frame", 1.1, 0.4))},
        "per_fold": [{"fold": f + 1, "trailers": len(dataset[f::folds]), "train_trailers": len(dataset) - len(dataset[f::folds]),
                      "test": [d["trailer"] for d in dataset[f::folds]],
                      "model": {"mae": 0.9, "rmse": 1.1, "spearman": 0.6},
                      "mean_baseline": {"mae": 1.3, "rmse": 1.6, "spearman": None},
                      "single_frame": {"mae": 1.1, "rmse": 1.4, "spearman": 0.4}} for f in range(folds)],
        "groups": [[labelled[0][0], labelled[1][0]]], "duplicate_threshold": 0.9, "duplicates_checked": True,
        "embedded_on_demand": 0, "stop_reason": "completed",
        "predictions": {str(pk): round(label + float(rng.normal(0, 0.8)), 4) for pk, label in labelled},
    }
    metrics = [{"epoch": e, "fold": f, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_mae": 1.0, "val_rmse": 1.2,
                "val_spearman": 0.5, "baseline_mae": 1.3, "baseline_rmse": 1.6, "seconds": 2.0}
               for f in range(1, folds + 1) for e in range(1, 31)]
    runs = []
    for n, run_status in enumerate(["succeeded", "succeeded", "succeeded", "failed", "running"], start=1):
        runs.append(TrainingRun.objects.create(
            created_by=bench_user if n % 2 else None, status=run_status, progress=1.0 if run_status != "running" else 0.4,
            epoch=30, metrics=metrics, model_config={"encoder": "efficientnet_lite0", "lstm_size": 64},
            train_config={"epochs": 30, "folds": folds, "batch_size": 10}, dataset=dataset,
            cross_validation=estimate if run_status == "succeeded" else {},
            error="CUDA out of memory" if run_status == "failed" else "", device="cuda", worker="bench@gpu",
            started_at=now - timezone.timedelta(hours=6 - n), heartbeat_at=now,
            finished_at=now if run_status != "running" else None,
            created_at=now - timezone.timedelta(hours=6 - n)))
    version_metrics = {"estimate": "cross-validated", "folds": folds, "ensemble": folds, "trailers": len(dataset),
                       "val_mae": 0.9, "val_mae_sd": 0.05, "baseline_mae": 1.3}
    # v1 and v2 have scored every ready trailer (scored_at, as their scoring pass leaves it); v3 has not scored.
    versions = [ModelVersion.objects.create(run=runs[k], number=k + 1, weights=f"models/bench-v{k + 1}.pt",
                                            config={"model": {"lstm_size": 64}}, metrics=version_metrics,
                                            is_active=(k == 1), activated_at=now if k == 1 else None,
                                            scored_at=now if k < 2 else None)
                for k in range(3)]
    for version in versions[:2]:
        standing = selectors.run_standing(version)  # what scoring keeps on each prediction
        Prediction.objects.bulk_create(
            (Prediction(model_version=version, trailer=t, score=float(np.clip(quality[i] + rng.normal(0, 1), 1, 10)),
                        subclip_scores=[round(float(quality[i] + rng.normal(0, 1)), 4) for _ in range(SUBCLIPS)],
                        spread=0.4, uncertainty=float(rng.uniform(0.05, 0.6)),
                        novelty=float(rng.lognormal(0.0, 0.5)), **asdict(standing.of(t.pk)))
             for i, t in enumerate(trailers) if t.status == "ready"), batch_size=5000)
        keep_errors(model_version_id=version.pk)  # each prediction's error, as scoring keeps it
    built["runs, versions, predictions"] = time.perf_counter() - started

    summaries = {}
    for version in versions[:2]:
        started = time.perf_counter()
        keep_prediction_summary(model_version=version)
        summaries[str(version)] = time.perf_counter() - started

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load, so the timings do not wait on it
    # A real contact sheet for one trailer, for the thumbnail's cache headers.
    first_ready = ready[0]
    sheet = Path(os.environ["MEDIA_ROOT"]) / f"subclips/{first_ready.pk}/0.jpg"
    sheet.parent.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.new("RGB", (480, 90), (120, 60, 30)).save(sheet, format="JPEG")
    session = SessionStore()
    session.update({"_auth_user_id": str(bench_user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": bench_user.get_session_auth_hash()})
    session.create()
    return {
        "built": built, "summaries": summaries, "session": session.session_key,
        "token": Token.objects.create(user=bench_user).key, "trailer": first_ready.pk, "run": runs[1].pk,
        "runs": [run.pk for run in runs],
        "version": versions[1].pk, "old_version": versions[0].pk, "ready": len(ready),
        "ratings": Rating.objects.count(),
    }


# --- part 2: the old code beside the new, in one process ---------------------------------------------------


def old_trailer_list(user, sort: str):
    """selectors.trailer_list as it was before issue 15: per-row subqueries, NULLS LAST everywhere."""
    from django.db.models import Avg, Count, F, FloatField, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from trailers.models import Prediction, Rating, Trailer

    ratings = Rating.objects.filter(trailer=OuterRef("pk")).order_by().values("trailer")
    active = Prediction.objects.filter(trailer=OuterRef("pk"), model_version__is_active=True)
    rows = Trailer.objects.annotate(
        mean_rating_old=Subquery(ratings.annotate(v=Avg("score")).values("v"), output_field=FloatField()),
        rating_count_old=Coalesce(Subquery(ratings.annotate(v=Count("pk")).values("v"), output_field=IntegerField()),
                                  Value(0)),
        my_score=Subquery(Rating.objects.filter(trailer=OuterRef("pk"), user=user).values("score")[:1],
                          output_field=IntegerField()),
        predicted_score=Subquery(active.values("score")[:1], output_field=FloatField()),
        predicted_spread=Subquery(active.values("spread")[:1], output_field=FloatField()),
        predicted_uncertainty=Subquery(active.values("uncertainty")[:1], output_field=FloatField()),
    )
    name = {"uploaded": "uploaded_at", "mean": "mean_rating_old"}[sort.lstrip("-")]
    ordered = F(name).desc(nulls_last=True) if sort.startswith("-") else F(name).asc(nulls_last=True)
    return rows.order_by(ordered, "-pk")


def old_predictions(version):
    """selectors.predictions as it was: the trailer's mean and count as subqueries per row."""
    from django.db.models import Avg, Count, F, FloatField, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Abs, Coalesce

    from trailers.models import Prediction, Rating

    ratings = Rating.objects.filter(trailer=OuterRef("trailer_id")).order_by().values("trailer")
    # (Named old_*: Prediction now reads these from its trailer's counters.)
    return (Prediction.objects.select_related("trailer", "model_version").annotate(
        old_mean=Subquery(ratings.annotate(v=Avg("score")).values("v"), output_field=FloatField()),
        old_count=Coalesce(Subquery(ratings.annotate(v=Count("pk")).values("v"), output_field=IntegerField()),
                           Value(0)),
    ).annotate(old_error=Abs(F("score") - F("old_mean"))).filter(model_version=version)
        .order_by(F("score").desc(nulls_last=True), "-pk"))


def timed(function, repeat: int = 3) -> float:
    """The best of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def compare(size: int) -> dict:
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from trailers import selectors
    from trailers.models import ModelVersion, Trailer, TrainingRun
    from trailers.paging import IdsFirstPaginator

    user = _bench_user()
    version = ModelVersion.objects.get(is_active=True)
    results: dict[str, dict] = {}

    def page(paginator_class, rows, number):
        return lambda: list(paginator_class(rows, 50).get_page(number).object_list)  # which counts the rows too

    for label, sort in (("dataset, newest first", "-uploaded"), ("dataset by mean rating", "-mean")):
        for number in (1, PAGE):
            old = timed(page(Paginator, old_trailer_list(user, sort), number), repeat=1 if size > 20_000 else 2)
            new = timed(page(IdsFirstPaginator, selectors.trailer_list(user=user, sort=sort), number))
            results[f"{label}, page {number}"] = {"old": old, "new": new}

    def old_predictions_page():
        rows = old_predictions(version)
        rated = list(rows.filter(old_count__gt=0).order_by().values_list("old_mean", "score", "trailer__title",
                                                                             "trailer_id"))
        ready = Trailer.objects.filter(status="ready", subclips__isnull=False).distinct()
        return rated, ready.filter(predictions__model_version=version).count(), ready.count()

    def new_predictions_page():
        # The kept figures, and the scoring's progress: counted only while the version is scoring after its
        # activation (v2 has scored every trailer, as its scoring pass leaves it).
        return (selectors.kept_prediction_summary(model_version=version),
                selectors.scoring_progress(model_version=version))

    results["predictions page's figures and counts"] = {"old": timed(old_predictions_page, repeat=1),
                                                         "new": timed(new_predictions_page)}
    results["  its scored/ready counts, when they are needed"] = {
        "old": None, "new": timed(lambda: selectors.scored_and_ready_counts(model_version=version))}
    results["the same figures computed afresh (a filtered page)"] = {
        "old": None, "new": timed(lambda: selectors.prediction_figures(
            version, selectors.predictions(model_version=version)), repeat=1)}
    results["run list (5 runs)"] = {
        "old": timed(lambda: list(TrainingRun.objects.select_related("created_by", "model_version"))),
        "new": timed(lambda: list(selectors.run_list()))}

    def old_csv():
        writer = csv.writer(_Echo())
        for p in old_predictions(version).iterator(chunk_size=500):
            writer.writerow([p.trailer_id, p.trailer.title, p.model_version.number, f"{p.score:.4f}",
                             f"{p.spread:.4f}", f"{p.uncertainty:.4f}", ";".join(f"{s:.4f}" for s in p.subclip_scores),
                             "" if p.old_mean is None else f"{p.old_mean:.4f}", p.old_count,
                             p.trailer.reference_score, p.trailer.status])

    def new_csv():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in selectors.prediction_rows_for_export(selectors.predictions(model_version=version)).iterator(
                chunk_size=2000):
            writer.writerow(row)

    results["CSV of every prediction (in process)"] = {"old": timed(old_csv, repeat=1), "new": timed(new_csv, repeat=1)}
    with CaptureQueriesContext(connection) as captured:
        list(IdsFirstPaginator(selectors.trailer_list(user=user), 50).get_page(PAGE).object_list)
    results["queries for a page of the dataset (paginator)"] = {"old": None, "new": len(captured)}
    return {"compare": results, "load": load()}


class _Echo:
    def write(self, value):
        return value


def _bench_user():
    from django.contrib.auth.models import User

    return User.objects.get(username="bench")


def sweep_and_score(size: int, waiting: int = 10_000) -> dict:
    """The sweep with ``waiting`` trailers waiting for the broker, and scoring's writes for as many, old and new."""
    from django.utils import timezone

    from config.celery import app
    from trailers.models import ModelVersion, Prediction, Subclip, Trailer
    from trailers.services import queue, scoring
    from trailers.tasks import preprocess_trailer_task

    def purge():
        with app.connection_for_write() as conn:
            for name in ("video", "gpu"):
                try:
                    conn.default_channel.queue_purge(name)
                except Exception:  # noqa: BLE001 - a queue not there yet has nothing in it
                    pass

    ids = list(Trailer.objects.filter(status="ready").order_by("pk").values_list("pk", flat=True)[:waiting])
    out: dict = {"load before": load()}

    def make_waiting():
        Trailer.objects.filter(pk__in=ids).update(status="queued", enqueued_at=None)
        purge()

    make_waiting()
    queue.sweep()  # first contact with the broker and the embedding check, out of the timing
    make_waiting()
    started = time.perf_counter()
    sent = queue.sweep()
    out["sweep (new)"] = {"seconds": time.perf_counter() - started, "sent": sent}
    assert Trailer.objects.filter(pk__in=ids, enqueued_at__isnull=True).count() == 0
    make_waiting()
    started = time.perf_counter()
    for pk in ids:  # the sweep's loop before issue 15: an UPDATE and a publish per trailer
        ok = queue._send(preprocess_trailer_task, pk)
        Trailer.objects.filter(pk=pk, status="queued").update(enqueued_at=timezone.now() if ok else None)
    out["sweep (old: one UPDATE and one publish per trailer)"] = {"seconds": time.perf_counter() - started}
    Trailer.objects.filter(pk__in=ids).update(status="ready", enqueued_at=timezone.now())
    purge()

    # Scoring's writes, the model stubbed out: version 3 scores the same trailers both ways.
    version = ModelVersion.objects.get(number=3)

    class Model:
        embedding = None
        sampling = SUBCLIP_SAMPLING  # what the model was trained on: the subclips' own, so none is sampled again

        class model_config:  # noqa: N801 - stands in for an LRCNConfig
            uses_embeddings = False

    import ml.predict

    scoring._loaded_model = lambda path: Model()
    # The real Scores, so that a field scoring writes cannot be missing here.
    ml.predict.score_frame_files = lambda model, paths, embeddings=None, embedding_spec=None: ml.predict.Scores(
        per_subclip=[5.0 + 0.1 * k for k in range(len(paths))], mean=5.1, spread=0.08, uncertainty=0.3, low=3.9,
        high=6.4, novelty=1.2)
    Prediction.objects.filter(model_version=version).delete()
    writing = []
    write_predictions = scoring.write_predictions

    def timed_write(*, predictions):
        started = time.perf_counter()
        try:
            return write_predictions(predictions=predictions)
        finally:
            writing.append(time.perf_counter() - started)

    scoring.write_predictions = timed_write
    started = time.perf_counter()
    written = scoring.score_trailers(model_version_id=version.pk, trailer_ids=ids)
    out["scoring 10,000 trailers, model stubbed (new: bulk upsert per 500)"] = {
        "seconds": time.perf_counter() - started, "written": written}
    out["  of which: its database writes (20 chunks)"] = {"seconds": sum(writing)}
    scoring.write_predictions = write_predictions
    predictions = list(Prediction.objects.filter(model_version=version))
    for p in predictions:
        p.pk, p.score = None, p.score + 1
    started = time.perf_counter()
    scoring.write_predictions(predictions=predictions)  # all conflicts: every row updated
    out["  of which: writing 10,000 predictions again (update on conflict)"] = {
        "seconds": time.perf_counter() - started}
    Prediction.objects.filter(model_version=version).delete()
    started = time.perf_counter()
    trailers = Trailer.objects.filter(status="ready", pk__in=ids).prefetch_related("subclips")
    writes = 0.0
    for trailer in trailers.iterator(chunk_size=100):
        subclips = list(trailer.subclips.all())
        scores = ml.predict.score_frame_files(Model(), [s.frames.name for s in subclips])
        write_started = time.perf_counter()
        Prediction.objects.update_or_create(model_version=version, trailer=trailer, defaults={
            "score": scores.mean, "spread": scores.spread, "uncertainty": scores.uncertainty,
            "subclip_scores": list(scores.per_subclip)})
        writes += time.perf_counter() - write_started
    out["scoring 10,000 trailers, model stubbed (old: update_or_create per trailer)"] = {
        "seconds": time.perf_counter() - started}
    out["  of which: its database writes"] = {"seconds": writes}
    Prediction.objects.filter(model_version=version).delete()
    assert Subclip.objects.exists()
    out["load after"] = load()
    return out


# --- part 3: over HTTP ----------------------------------------------------------------------------------------


def counting_application(environ, start_response):
    """The project's WSGI application, answering with ``X-Queries``: the database queries the request made."""
    global _application
    if _application is None:
        from django.core.wsgi import get_wsgi_application

        _application = get_wsgi_application()
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    cpu = time.process_time()

    def start(status, headers, exc_info=None):
        # The worker's own CPU time for the response: what the request cost it, however busy the machine.
        spent = f"{(time.process_time() - cpu) * 1000:.1f}"
        return start_response(status, [*headers, ("X-Queries", str(count)), ("X-CPU-ms", spent)], exc_info)

    with connection.execute_wrapper(counter):
        return _application(environ, start)


_application = None


def urls(ids: dict) -> list[str]:
    trailer_sorts = ["uploaded", "title", "status", "duration", "mean", "count", "mine", "reference", "predicted"]
    prediction_sorts = ["title", "predicted", "uncertainty", "spread", "novelty", "mean", "count", "reference", "error"]
    out = ["/", f"/?page={PAGE}"]
    out += [f"/?sort={d}{key}" for key in trailer_sorts for d in ("", "-")]
    out += [f"/?sort=-mean&page={PAGE}", f"/?sort=mine&page={PAGE}", f"/?sort=-predicted&page={PAGE}",
            "/?q=harbour", "/?q=harbour&page=20", "/?q=no-such-title", "/?rated=yes", "/?rated=no&predicted=yes&sort=count",
            "/?status=failed", "/rate/", f"/trailers/{ids['trailer']}/", "/runs/", f"/runs/{ids['run']}/",
            "/predictions/", f"/predictions/?page={PAGE}", f"/predictions/?version={ids['old_version']}"]
    out += [f"/predictions/?sort={d}{key}" for key in prediction_sorts for d in ("", "-")]
    out += [f"/predictions/?sort=-error&page={PAGE}", "/predictions/?rated=yes", "/predictions/?q=harbour",
            "/predictions/?unlike=yes", f"/predictions/?unlike=yes&page={PAGE // 10}",
            f"/trailers/{ids['trailer']}/thumbnail.jpg"]
    out += ["/api/trailers/", f"/api/trailers/?page={PAGE}", "/api/trailers/?sort=-mean",
            f"/api/trailers/?sort=-mean&page={PAGE}", "/api/trailers/?sort=mine", "/api/trailers/?sort=-predicted",
            "/api/trailers/?q=harbour", f"/api/trailers/{ids['trailer']}/", "/api/runs/", f"/api/runs/{ids['run']}/",
            f"/api/runs/{ids['run']}/dataset/", f"/api/runs/{ids['run']}/dataset/?page={PAGE}", "/api/model-versions/",
            "/api/predictions/", f"/api/predictions/?page={PAGE}", "/api/predictions/?version=active",
            f"/api/predictions/?version=active&page={PAGE}", f"/api/predictions/?trailer={ids['trailer']}",
            "/api/predictions/?version=active&unlike=yes"]
    out += ["/admin/trailers/trailer/", f"/admin/trailers/trailer/?p={PAGE}", "/admin/trailers/rating/",
            f"/admin/trailers/rating/?p={PAGE}", "/admin/trailers/rating/?score__exact=7",
            "/admin/trailers/prediction/", f"/admin/trailers/prediction/?p={PAGE}", "/admin/trailers/subclip/",
            "/admin/trailers/trainingrun/", "/admin/trailers/modelversion/", f"/admin/trailers/trailer/{ids['trailer']}/change/"]
    # The raters' statistics and the ratings' CSV (every rating), and the comparisons (stop 38).
    out += ["/raters/", "/api/raters/", "/raters/ratings.csv", "/api/ratings/export/",
            "/runs/compare/?" + "&".join(f"runs={pk}" for pk in ids.get("runs") or [ids["run"]]),
            f"/versions/compare/?a={ids['old_version']}&b={ids['version']}",
            f"/api/model-versions/compare/?a={ids['old_version']}&b={ids['version']}"]
    return out


def request(port: int, path: str, headers: dict[str, str]) -> tuple[float, int, dict[str, str], int]:
    """(seconds to the last byte, status, headers, bytes) of one GET."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    size = 0
    while chunk := response.read(65536):
        size += len(chunk)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, response.status, {k.lower(): v for k, v in response.getheaders()}, size


def worker_rss(master: int) -> dict[int, int]:
    """Resident memory (bytes) of each of gunicorn's workers."""
    out = {}
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return out
    for pid in map(int, children):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[pid] = int(line.split()[1]) * 1024
        except OSError:
            pass
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def serve_and_measure(args, size: int, work: Path, ids: dict) -> dict:
    env = django_env(args, size, work)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)
    port = args.port
    log = open(work / f"gunicorn-{size}.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "bench.scale:counting_application", "--workers", "2",
                               "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--timeout", "300"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request(port, "/accounts/login/", {})
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start: see {work}/gunicorn-{size}.log") from None
                time.sleep(0.3)
        page_headers = {"Cookie": f"sessionid={ids['session']}"}
        api_headers = {"Authorization": f"Token {ids['token']}"}
        # Both workers warm (imports, templates, connections) before anything is measured.
        for path in ("/", "/predictions/", "/runs/", "/admin/trailers/trailer/") * 4:
            request(port, path, page_headers)
        for path in ("/api/trailers/", "/api/runs/") * 4:
            request(port, path, api_headers)
        rows = []
        print(f"\n{size:,} trailers over HTTP (gunicorn, 2 sync workers, DEBUG=0); {load()}", flush=True)
        print(f"{'URL':58} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>7} {'queries':>7} {'KiB':>7} "
              f"{'RSS +MB':>8}")
        for path in urls(ids):
            headers = api_headers if path.startswith("/api/") else page_headers
            for _ in range(2):
                request(port, path, headers)
            before = worker_rss(server.pid)
            times, cpu, statuses, queries, size_bytes = [], [], set(), set(), 0
            for _ in range(args.requests):
                elapsed, status, response_headers, size_bytes = request(port, path, headers)
                times.append(elapsed)
                cpu.append(float(response_headers.get("x-cpu-ms", "nan")))
                statuses.add(status)
                queries.add(response_headers.get("x-queries", "?"))
            after = worker_rss(server.pid)
            growth = max((after.get(pid, 0) - rss for pid, rss in before.items()), default=0) / 2**20
            row = {"url": path, "status": sorted(statuses), "p50": percentile(times, 50) * 1000,
                   "p95": percentile(times, 95) * 1000, "cpu": percentile(cpu, 50), "queries": sorted(queries),
                   "kib": size_bytes / 1024, "rss_growth_mb": growth}
            rows.append(row)
            flag = "" if row["p95"] < TARGET_P95_MS else "  > target"
            print(f"{path[:58]:58} {','.join(map(str, row['status'])):>6} {row['p50']:8.1f} {row['p95']:8.1f} "
                  f"{row['cpu']:7.1f} {','.join(row['queries']):>7} {row['kib']:7.1f} {growth:8.1f}{flag}",
                  flush=True)

        # The thumbnail again with its ETag: nothing but a 304.
        _, _, thumb_headers, _ = request(port, f"/trailers/{ids['trailer']}/thumbnail.jpg", page_headers)
        etag = thumb_headers.get("etag")
        revalidated = request(port, f"/trailers/{ids['trailer']}/thumbnail.jpg",
                              {**page_headers, "If-None-Match": etag or ""})[1] if etag else None
        thumbnail = {"cache-control": thumb_headers.get("cache-control"), "etag": etag, "revalidated": revalidated}
        print(f"thumbnail: Cache-Control {thumbnail['cache-control']!r}, ETag {etag!r}, again with it: {revalidated}")

        # The CSV of every prediction of the active version, streamed.
        before = worker_rss(server.pid)
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("GET", "/predictions.csv", headers=page_headers)
        response = conn.getresponse()
        first = response.read(1)
        first_byte = time.perf_counter() - started
        body = first + response.read()
        total = time.perf_counter() - started
        conn.close()
        after = worker_rss(server.pid)
        lines = body.count(b"\n") - 1
        growth = max((after.get(pid, 0) - rss for pid, rss in before.items()), default=0) / 2**20
        csv_row = {"seconds": total, "first_byte": first_byte, "rows": lines, "mib": len(body) / 2**20,
                   "rss_growth_mb": growth, "queries": response.getheader("X-Queries")}
        print(f"/predictions.csv: {lines:,} rows, {csv_row['mib']:.1f} MiB in {total:.2f} s (first byte "
              f"{first_byte * 1000:.0f} ms), worker RSS +{growth:.1f} MB; {load()}", flush=True)

        concurrent = []
        for path in ("/", "/?sort=-mean", "/predictions/", "/api/trailers/?sort=-predicted"):
            concurrent.append(hammer(port, path, page_headers if not path.startswith("/api/") else api_headers,
                                     args.concurrency, args.load_seconds))
            c = concurrent[-1]
            print(f"{args.concurrency} clients for {args.load_seconds:.0f} s on {path}: {c['rps']:.1f} req/s, "
                  f"p50 {c['p50']:.0f} ms, p95 {c['p95']:.0f} ms, {c['over_2s']} past 2 s", flush=True)
        peak = max(worker_rss(server.pid).values(), default=0) / 2**20
        print(f"workers' resident memory at the end: up to {peak:.0f} MB; {load()}")
        return {"rows": rows, "csv": csv_row, "concurrent": concurrent, "thumbnail": thumbnail, "peak_rss_mb": peak}
    finally:
        stop_process(server, timeout=20)
        log.close()


def hammer(port: int, path: str, headers: dict, clients: int, seconds: float) -> dict:
    times: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        while time.monotonic() < deadline:
            elapsed = request(port, path, headers)[0]
            with lock:
                times.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    return {"url": path, "rps": len(times) / wall, "p50": percentile(times, 50) * 1000,
            "p95": percentile(times, 95) * 1000, "over_2s": sum(t > 2 for t in times)}


# --- the whole run -------------------------------------------------------------------------------------------


def prepare_database(args, size: int, work: Path) -> bool:
    """Create (or, with --keep, reuse) the size's database; True when it must be built."""
    import psycopg

    name = db_name(size)
    with psycopg.connect(database_url(args.server, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and args.keep:
            with psycopg.connect(database_url(args.server, name)) as db:
                try:
                    built = db.execute("SELECT count(*) FROM trailers_trailer").fetchone()[0] == size
                except psycopg.Error:
                    built = False
            if built:  # brought up to the code's migrations, its rows kept
                subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT,
                               env=django_env(args, size, work), check=True)
                with psycopg.connect(database_url(args.server, name), autocommit=True) as db:
                    db.execute("VACUUM ANALYZE")  # after a migration that rewrote rows, as autovacuum would
                return False
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=django_env(args, size, work),
                   check=True)
    return True


def broker_url(requested: str | None, work: Path) -> str:
    if requested:
        return requested
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/11", socket_connect_timeout=1).ping()
        return "redis://127.0.0.1:6379/11"
    except Exception:  # noqa: BLE001 - no Redis here: the embedded broker
        return f"filesystem://{work}/broker"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--ratings", type=int, default=100, help="ratings per trailer")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per URL")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--load-seconds", type=float, default=10)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--broker-url", default=None)
    parser.add_argument("--port", type=int, default=8615)
    parser.add_argument("--keep", action="store_true", help="reuse a database already built at the size")
    parser.add_argument("--work", help="where logs, static and media files go (default: a temporary folder)")
    parser.add_argument("--part", choices=["build", "compare", "sweep"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.part:
        setup_django()
        work = Path(args.work)
        result = {"build": lambda: build(args.size, args.ratings, work), "compare": lambda: compare(args.size),
                  "sweep": lambda: sweep_and_score(args.size)}[args.part]()
        Path(args.out).write_text(json.dumps(result, default=str))
        return

    work = Path(args.work or tempfile.mkdtemp(prefix="reelscore-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    args.broker_url = broker_url(args.broker_url, work)
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; PostgreSQL at {urlsplit(args.server).hostname}; "
          f"broker {args.broker_url}; work in {work}; {load()}")
    print("The machine is shared with other sessions: compare ratios and query counts more than absolute times.")
    summary = {}
    for size in args.sizes:
        print(f"\n=== {size:,} trailers, {args.ratings} ratings each ===", flush=True)
        ids_file = work / f"ids-{size}.json"
        if prepare_database(args, size, work) or not ids_file.exists():
            started = time.perf_counter()
            ids = run_part("build", args, size, work)
            ids_file.write_text(json.dumps(ids))
            print(f"built in {time.perf_counter() - started:.0f} s: {ids['ready']:,} ready trailers, "
                  f"{ids['ratings']:,} ratings; "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in ids["built"].items()))
            print("kept prediction summaries made in " + ", ".join(f"{k}: {v:.2f} s" for k, v in ids["summaries"].items()))
        else:
            ids = json.loads(ids_file.read_text())
            print("reusing the database built earlier")

        compared = run_part("compare", args, size, work)
        print(f"\nold code beside new, in one process ({compared['load']}):")
        print(f"{'':58} {'old':>10} {'new':>10} {'× faster':>9}")
        for label, figures in compared["compare"].items():
            old, new = figures["old"], figures["new"]
            if isinstance(new, int):
                print(f"{label:58} {'':>10} {new:>10}")
            elif old is None:
                print(f"{label:58} {'—':>10} {new * 1000:8.0f}ms")
            else:
                print(f"{label:58} {old * 1000:8.0f}ms {new * 1000:8.0f}ms {old / new:8.1f}×")

        swept = run_part("sweep", args, size, work)
        print(f"\nsweep and scoring writes, 10,000 trailers ({swept['load before']} → {swept['load after']}):")
        for label, figures in swept.items():
            if isinstance(figures, dict):
                extra = "".join(f", {k} {v}" for k, v in figures.items() if k != "seconds")
                print(f"  {label}: {figures['seconds']:.2f} s{extra}")

        served = serve_and_measure(args, size, work, ids)
        summary[size] = {"served": served, "compared": compared, "swept": swept}

    if len(summary) > 1:
        sizes = sorted(summary)
        print(f"\np95 (ms) and queries by size; {load()}")
        print(f"{'URL':58} " + " ".join(f"{f'{s // 1000}k p95':>9} {'q':>4}" for s in sizes))
        by_url = {s: {r["url"]: r for r in summary[s]["served"]["rows"]} for s in sizes}
        for path in by_url[sizes[0]]:
            cells = []
            for s in sizes:
                r = by_url[s].get(path)
                cells.append(f"{r['p95']:9.1f} {','.join(r['queries']):>4}" if r else f"{'—':>9} {'':>4}")
            print(f"{path[:58]:58} " + " ".join(cells))
    largest = max(summary)
    rows = summary[largest]["served"]["rows"]
    worst = max(rows, key=lambda r: r["p95"])
    counts_differ = [r["url"] for r in rows if len(summary) > 1
                     and {x["url"]: x for x in summary[min(summary)]["served"]["rows"]}[r["url"]]["queries"] != r["queries"]]
    print(f"\nAt {largest:,} trailers: slowest p95 {worst['p95']:.0f} ms ({worst['url']}), "
          f"{sum(r['p95'] >= TARGET_P95_MS for r in rows)} of {len(rows)} URLs at or past {TARGET_P95_MS} ms; "
          f"largest worker growth over a URL's requests {max(r['rss_growth_mb'] for r in rows):.1f} MB; "
          f"CSV {summary[largest]['served']['csv']['seconds']:.2f} s; query counts that differ between sizes: "
          f"{counts_differ or 'none'}")
    shutil.rmtree(work / "static", ignore_errors=True)


if __name__ == "__main__":
    main()
