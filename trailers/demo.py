"""The demo dataset: synthetic trailers, people who rate them, a trained and active model.

Everything goes through the same services as real use (ingest, ratings, a
training run, activation); only the trailers are synthetic, made by ml.synth.
Running it again finds what is there and creates nothing new; once it was built whole, what people delete of it
is not made again (``was_built``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.utils import timezone

from ml.config import PRESETS, TRAIN_PRESETS
from ml.markup import read_markup
from ml.synth import generate_trailer, write_markup
from trailers.models import ModelVersion, PeriodicJob, Prediction, Rating, Trailer, TrainingRun
from trailers.presets import DEFAULT_MIN_RATINGS

from . import services

DEMO_PASSWORD = "reelscore-demo"
# (username, bias): each person rates a trailer near its hidden rating, shifted by their bias, with noise.
DEMO_RATERS = [("ana", 0.0), ("ben", -0.8), ("chloe", 0.6), ("dev", 0.3), ("eli", -0.4)]
DEMO_USERS = [(name, DEMO_PASSWORD) for name, _ in DEMO_RATERS]
CONTAINERS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".ts")
TITLE_PREFIX = "demo-"


@dataclass(frozen=True)
class DemoOptions:
    trailers: int = 80
    random_seed: int = 7
    train: bool = True
    epochs: int = TRAIN_PRESETS["default"].epochs  # the admin's default: one default, chosen by measurement
    width: int = 160
    height: int = 120
    duration: float = 6.0
    timeout: float = 1800.0


def build_demo(options: DemoOptions, say: Callable[[str], None] = print,
               status: Callable[..., None] | None = None) -> dict[str, int]:
    """Create (or find) the demo dataset and, unless told not to, train and activate a model on it.

    ``status(stage, done=False)`` hears each stage as it goes (trailers/demo_status.py: every page's banner).
    A demo that is all there already is found in a few queries: nothing is built, enqueued or said but that.
    """
    status = status or (lambda stage, done=False: None)
    found = demo_summary(options)
    if found is not None:
        status("complete", done=True)
        return {**found, "already": 1}
    if was_built(options):
        say("The demo was built before: trailers deleted since are not made again (`make clean` starts afresh).")
        status("complete", done=True)
        trailers = _demo_trailers(options)
        return {"trailers": trailers.count(), "ratings": Rating.objects.filter(trailer__in=trailers).count(),
                "already": 1}
    say(f"Building the demo dataset ({options.trailers} trailers, random seed {options.random_seed})…")
    status("creating the demo's people")
    uploader = _ensure_users()[0]
    rng = np.random.default_rng(options.random_seed)
    hidden = _ensure_trailers(options, uploader, say, status)
    _ensure_ratings(hidden, rng)
    trailers = _wait_processed(list(hidden), options.timeout, say, status)
    summary = {"trailers": len(trailers), "ratings": Rating.objects.filter(trailer__in=trailers).count()}
    if options.train:
        version = _ensure_active_version(options, say, status)
        _wait_scored(version, options.timeout, say, status)
        summary["model_version"] = version.number
    PeriodicJob.objects.update_or_create(name=_built_name(options), defaults={"last_run_at": timezone.now()})
    status("complete", done=True)
    return summary


def _built_name(options: DemoOptions, train: bool | None = None) -> str:
    train = options.train if train is None else train
    return f"demo:{options.trailers}:{options.random_seed}:{'trained' if train else 'untrained'}"


def was_built(options: DemoOptions) -> bool:
    """Whether this demo was built whole once (a trained one serves for an untrained one): what of it was deleted
    since, by people trying the site, is not made again."""
    names = [_built_name(options, train=True)] + ([] if options.train else [_built_name(options, train=False)])
    return PeriodicJob.objects.filter(name__in=names).exists()


def _titles(options: DemoOptions) -> list[str]:
    return [f"{TITLE_PREFIX}{i:03d}" for i in range(options.trailers)]


def _file_names(options: DemoOptions) -> dict[str, str]:
    """{demo title: the file it is uploaded from}. The demo finds its trailers by their files' names, which stay:
    a title is its uploader's to change (found by title, one renamed trailer made every later `make demo` build
    again, and draw its ratings anew)."""
    return {title: f"{title}{CONTAINERS[i % len(CONTAINERS)]}" for i, title in enumerate(_titles(options))}


def _demo_trailers(options: DemoOptions):
    return Trailer.objects.filter(original_name__in=list(_file_names(options).values()))


def demo_summary(options: DemoOptions) -> dict[str, int] | None:
    """The demo as it stands when it is complete (every trailer processed, rated, and, with ``train``, a version
    active that has scored every ready one); None while anything is missing."""
    trailers = _demo_trailers(options)
    if trailers.count() < options.trailers or trailers.exclude(
            status__in=[Trailer.Status.READY, Trailer.Status.FAILED]).exists():
        return None
    ratings = Rating.objects.filter(trailer__in=trailers).count()
    if not ratings:
        return None
    summary = {"trailers": trailers.filter(status=Trailer.Status.READY).count(), "ratings": ratings}
    if options.train:
        active = ModelVersion.objects.filter(is_active=True).first()
        if active is None or Prediction.objects.filter(model_version=active, trailer__in=trailers).count() < \
                summary["trailers"]:
            return None
        summary["model_version"] = active.number
    return summary


def demo_password() -> str:
    """The demo people's password: the published one, or the one ``serve`` chose for a demo served to other
    machines (REELSCORE_DEMO_PASSWORD, set in its process for the build it runs)."""
    return os.environ.get("REELSCORE_DEMO_PASSWORD") or DEMO_PASSWORD


def _ensure_users() -> list[User]:
    users, hashed = [], None
    for name, _ in DEMO_RATERS:
        user, created = User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
        if created:
            # The demo people share one password: hashed once (a hash costs a second on a busy machine).
            hashed = hashed or make_password(demo_password())
            user.password = hashed
            user.save(update_fields=["password"])
        users.append(user)
    return users


def _ensure_trailers(options: DemoOptions, uploader: User, say, status) -> dict[Trailer, float]:
    """The demo trailers with their hidden ratings. Each missing one is generated and uploaded at once, so that
    the worker preprocesses the first while the next are made; then the hidden ratings are written in the seed's
    markup format and imported from it as reference scores."""
    folder = Path(settings.VAR_DIR) / "demo-videos"
    folder.mkdir(parents=True, exist_ok=True)
    files = _file_names(options)
    title_of = {name: title for title, name in files.items()}
    existing = {title_of[t.original_name]: t for t in _demo_trailers(options)}
    hidden: dict[str, float] = {title: t.reference_score for title, t in existing.items()
                                if t.reference_score is not None}
    created = 0
    for i, title in enumerate(_titles(options)):
        if title in existing and title in hidden:
            continue
        path = folder / files[title]
        made = generate_trailer(path, seed=options.random_seed * 1000 + i, duration=options.duration, width=options.width,
                                height=options.height, fps=24)
        hidden[title] = made.rating
        if title not in existing:
            try:
                existing[title] = services.ingest_trailer(source=path, original_name=path.name, user=uploader)
                created += 1
            except services.IngestError as exc:
                if exc.duplicate_of is None:
                    raise
                existing[title] = exc.duplicate_of
        # Those there already count: a build stopped half-way and started again goes on from them.
        status(f"uploaded {len(existing)} of {options.trailers} trailers; the worker preprocesses them as they come")
        if created and created % 10 == 0:
            say(f"  generated and uploaded {created} synthetic trailers")
    if created:
        say(f"Uploaded {created} demo trailers through the ingest service.")
    # The hidden ratings as the seed's markup (Title, Score), imported from it as reference scores.
    markup_path = write_markup(folder / "markup.csv", [_Titled(title, hidden[title]) for title in _titles(options)])
    scores = read_markup(markup_path)
    for title, trailer in existing.items():
        services.set_reference_score(trailer=trailer, score=scores[title])
        trailer.reference_score = scores[title]
    return {existing[title]: scores[title] for title in _titles(options)}


@dataclass(frozen=True)
class _Titled:
    title: str
    rating: float


def _ensure_ratings(hidden: dict[Trailer, float], rng: np.random.Generator) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=[n for n, _ in DEMO_RATERS])}
    rated = set(Rating.objects.filter(user__in=users.values()).values_list("user_id", "trailer_id"))
    new = []
    # In the order of the demo's files (the titles' order, unless someone renamed one since).
    for trailer, truth in sorted(hidden.items(), key=lambda item: item[0].original_name):
        for name, bias in DEMO_RATERS:
            # Draw for every pair, rated or not, so the same random seed always gives the same ratings.
            seen, noise = rng.random(), rng.normal(0, 0.9)
            user = users[name]
            if (user.pk, trailer.pk) in rated or seen > 0.8:
                continue
            new.append((user.pk, trailer.pk, int(np.clip(round(truth + bias + noise), 1, 10))))
    services.save_ratings(ratings=new)


def _wait_processed(trailers: list[Trailer], timeout: float, say, status) -> list[Trailer]:
    ids = [t.pk for t in trailers]
    deadline, last = time.monotonic() + timeout, -1
    while True:
        rows = Trailer.objects.filter(pk__in=ids)
        done = rows.filter(status__in=[Trailer.Status.READY, Trailer.Status.FAILED]).count()
        if done != last:
            say(f"  preprocessed {done}/{len(ids)} trailers")
            status(f"preprocessed {done} of {len(ids)} trailers; then a model is trained on them")
            last = done
        if done == len(ids):
            return list(rows.filter(status=Trailer.Status.READY))
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done} of {len(ids)} demo trailers were processed in {timeout:.0f} s: "
                               "is a worker running (make run / make demo start one)?")
        time.sleep(0.5)


def _ensure_active_version(options: DemoOptions, say, status) -> ModelVersion:
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        return active
    run = (TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING,
                                                   TrainingRun.Status.SUCCEEDED]).order_by("-pk").first())
    if run is None:
        say("Starting a training run with the default preset (5-fold cross-validation)…")
        # At the size preprocessing embedded the frames at (the default's own, unless EMBEDDING_SIZE says else).
        run = services.start_training_run(
            user=None, model_config=PRESETS["default"].replace(frame_size=settings.EMBEDDING_SIZE),
            train_config=TRAIN_PRESETS["default"].replace(epochs=options.epochs, random_seed=options.random_seed),
            label_source=TrainingRun.LabelSource.USER_MEAN, min_ratings=DEFAULT_MIN_RATINGS,
        )  # fmt: skip
        if run.status == TrainingRun.Status.FAILED:
            raise RuntimeError(f"The demo training run could not start: {run.error}")
    deadline, last_epoch = time.monotonic() + options.timeout, -1
    while not run.is_finished:
        if run.metrics and (run.metrics[-1].get("fold"), run.metrics[-1]["epoch"]) != last_epoch:
            m = run.metrics[-1]
            fold = f"fold {m['fold']}, " if m.get("fold") else ""
            say(f"  run #{run.pk}: {fold}epoch {m['epoch']}/{options.epochs}, held-out MAE {_fmt(m.get('val_mae'))} "
                f"(mean baseline {_fmt(m.get('baseline_mae'))})")
            status(f"training run #{run.pk}: {fold}epoch {m['epoch']} of {options.epochs}; then every trailer is "
                   "scored")
            last_epoch = (m.get("fold"), m["epoch"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo training run did not finish in {options.timeout:.0f} s")
        if not run.metrics:
            status(f"training run #{run.pk} is {run.status}; then every trailer is scored")
        time.sleep(1)
        run.refresh_from_db()
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise RuntimeError(f"The demo training run ended {run.status}: {run.error}")
    say(f"Run #{run.pk} succeeded; activating model version v{run.model_version.number}.")
    return services.activate_model_version(model_version=run.model_version)


def _wait_scored(version: ModelVersion, timeout: float, say, status) -> None:
    ready = Trailer.objects.filter(status=Trailer.Status.READY).count()
    deadline = time.monotonic() + timeout
    while (scored := Prediction.objects.filter(model_version=version).count()) < ready:
        status(f"scoring: {scored} of {ready} trailers have a prediction from v{version.number}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {scored} of {ready} trailers were scored in {timeout:.0f} s")
        time.sleep(0.5)
    say(f"Scored {ready} trailers with v{version.number}.")


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.2f}"
