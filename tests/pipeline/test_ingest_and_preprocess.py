"""Upload → a real worker preprocesses → ready with its subclips; bad files are refused and leave nothing."""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from ml.frames import load_frames
from ml.synth import write_markup
from ml.video import probe
from tests.support.pipeline import ingest, wait_until_processed
from tests.support.processes import wait_for
from trailers.models import Subclip, Trailer
from trailers.services import IngestError, ingest_trailer, preprocess_trailer

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def stored_files(*folders: str):
    """Files under MEDIA_ROOT (or under the given folders of it)."""
    media = settings.MEDIA_ROOT
    roots = [media / f for f in folders] if folders else [media]
    return sorted(p.relative_to(media).as_posix() for root in roots if root.exists() for p in root.rglob("*")
                  if p.is_file())


def uploaded_files():
    # What ingest writes. The module's worker may be preprocessing a trailer meanwhile, writing its outputs in
    # incoming/work/ (store.work_folder) before it publishes them: those are not the upload's.
    return [name for name in stored_files("trailers", "incoming") if not name.startswith("incoming/work/")]


def test_upload_becomes_ready_with_its_subclips(worker, synthetic_trailers, user):
    trailers = ingest(synthetic_trailers[:3], user=user)
    for trailer in trailers:
        trailer.refresh_from_db()
    assert all(t.status in (Trailer.Status.QUEUED, Trailer.Status.PROCESSING) and t.enqueued_at for t in trailers)
    for trailer in wait_until_processed(trailers):
        assert trailer.status == Trailer.Status.READY, trailer.error
        subclips = list(trailer.subclips.order_by("index"))
        # 4 s, subclips of 1.5 s from 0.5 s in: [0.5, 2.0] and [2.0, 3.5]; [3.5, 4.0] is too short.
        assert [(s.index, s.start, s.duration) for s in subclips] == [(0, 0.5, 1.5), (1, 2.0, 1.5)]
        for subclip in subclips:
            frames = load_frames(subclip.frames.path)
            # 4 sample points × snippets of 2 consecutive frames, and each frame's cached embedding.
            assert frames.shape == (8, 32, 32, 3) and frames.dtype == np.uint8
            assert subclip.frame_count == 8
            assert np.load(subclip.embeddings.path).shape == (8, 1280)
            assert subclip.start <= subclip.timestamps[0] < subclip.timestamps[-1] < subclip.end
            assert subclip.contact_sheet.storage.exists(subclip.contact_sheet.name)
            assert subclip.sampling["frames_per_subclip"] == 4
        assert trailer.uploaded_by == user
        assert (trailer.width, trailer.height) == (64, 48)
        assert trailer.duration == pytest.approx(4.0, abs=0.2)
        # Browsers play mp4 and webm as they are; the mkv gets an MP4 copy for the page's player.
        assert bool(trailer.browser_copy) == trailer.original_name.endswith(".mkv")
        if trailer.browser_copy:
            copy = probe(trailer.browser_copy.path)
            assert (copy.codec, copy.width, copy.height) == ("h264", 64, 48)


def test_a_second_delivery_does_nothing_and_preprocess_again_replaces_the_set(worker, synthetic_trailers,
                                                                              staff_client):
    [trailer] = wait_until_processed(ingest(synthetic_trailers[3:4]))
    first = {s.frames.name for s in trailer.subclips.all()}
    assert preprocess_trailer(trailer_id=trailer.pk) is None  # the same task delivered again: not queued, no work
    assert {s.frames.name for s in Subclip.objects.filter(trailer=trailer)} == first

    response = staff_client.post("/admin/trailers/trailer/", {"action": "preprocess_again",
                                                              "_selected_action": [trailer.pk]}, follow=True)
    assert "1 trailer(s) queued for preprocessing." in response.content.decode()

    def replaced():
        names = {s.frames.name for s in Subclip.objects.filter(trailer=trailer)}
        return Trailer.objects.get(pk=trailer.pk).status == Trailer.Status.READY and names and names != first

    wait_for(replaced, timeout=60, message="a new set of subclips")
    second = {s.frames.name for s in Subclip.objects.filter(trailer=trailer)}
    assert len(second) == 2 and first.isdisjoint(second)
    wait_for(lambda: not any(name in stored_files() for name in first), timeout=10,
             message="the replaced set's files to go")
    assert not any((settings.MEDIA_ROOT / name).parent.exists() for name in first)  # and their folder
    assert all(name in stored_files() for name in second)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.mp4", b"", "empty"),
        ("notes.mp4", b"these are my notes, not a video\n" * 20, "not a media file"),
        ("truncated.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "not a media file"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_kept(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    before = uploaded_files()
    with pytest.raises(IngestError) as refused:
        ingest_trailer(source=path, original_name=name)
    assert message in str(refused.value).lower()
    assert str(refused.value).startswith(f"{name}: ") or refused.value.code == "empty"
    assert not Trailer.objects.exists()
    assert uploaded_files() == before


def test_audio_only_file_is_refused(tmp_path):
    import av

    path = tmp_path / "song.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for _ in range(10):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(IngestError, match="no video stream"):
        ingest_trailer(source=path, original_name=path.name)
    assert not Trailer.objects.exists()


def test_duplicate_upload_is_reported_not_stored_twice(synthetic_trailers):
    [first] = ingest(synthetic_trailers[:1])
    files = uploaded_files()
    with pytest.raises(IngestError) as refused:
        ingest_trailer(source=synthetic_trailers[0].path, original_name="renamed.mp4")
    assert refused.value.code == "duplicate" and refused.value.duplicate_of == first
    assert f"trailer #{first.pk}" in str(refused.value)
    assert Trailer.objects.count() == 1 and uploaded_files() == files


def test_size_limit_is_enforced_before_reading(synthetic_trailers, settings):
    settings.TRAILER_MAX_BYTES = 1000
    with pytest.raises(IngestError, match="too large"):
        ingest_trailer(source=synthetic_trailers[0].path, original_name="big.mp4")
    assert not Trailer.objects.exists()


def test_original_name_is_never_used_as_a_path(synthetic_trailers):
    trailer = ingest_trailer(source=synthetic_trailers[1].path, original_name="../../etc/passwd.mp4")
    assert trailer.original_name == "passwd.mp4"
    assert trailer.file.name.startswith("trailers/") and "passwd" not in trailer.file.name


def test_import_trailers_reads_markup_and_reports_skips(worker, synthetic_trailers, tmp_path, capsys):
    folder = tmp_path / "incoming"
    folder.mkdir()
    for trailer in synthetic_trailers[:3]:
        (folder / trailer.path.name).write_bytes(trailer.path.read_bytes())
    (folder / "readme.txt").write_text("not a trailer")
    markup = write_markup(tmp_path / "markup.csv", synthetic_trailers[:3])
    call_command("import_trailers", str(folder), "--markup", str(markup), "--no-progress")
    out = capsys.readouterr().out
    assert "Skipped readme.txt: " in out and "not a media file" in out.lower()
    assert "Imported 3 trailer(s) (3 with a reference score); skipped 1." in out
    scores = dict(Trailer.objects.values_list("title", "reference_score"))
    assert scores == {t.title: t.rating for t in synthetic_trailers[:3]}
    assert all(t.status == Trailer.Status.READY for t in wait_until_processed(Trailer.objects.all()))


def test_import_again_with_markup_adds_scores_and_lists_files_without_a_row(synthetic_trailers, tmp_path, capsys):
    folder = tmp_path / "incoming"
    folder.mkdir()
    for trailer in synthetic_trailers[:3]:
        (folder / trailer.path.name).write_bytes(trailer.path.read_bytes())
    call_command("import_trailers", str(folder), "--no-progress")  # no markup yet
    assert set(Trailer.objects.values_list("reference_score", flat=True)) == {None}
    capsys.readouterr()

    # The markup arrives later, and a new file with no row in it.
    (folder / "extra.mp4").write_bytes(synthetic_trailers[3].path.read_bytes())
    markup = write_markup(tmp_path / "markup.csv", synthetic_trailers[:2])
    call_command("import_trailers", str(folder), "--markup", str(markup), "--no-progress")
    out = capsys.readouterr().out
    first, second, third = synthetic_trailers[:3]
    assert f"Updated the reference score of 2 trailer(s) imported before: {first.title}, {second.title}." in out
    assert f"Skipped {third.path.name}: This file was already uploaded" in out  # nothing new for it
    assert "No markup row for extra.mp4: imported without a reference score." in out
    assert "Imported 1 trailer(s) (0 with a reference score); skipped 1." in out
    scores = dict(Trailer.objects.values_list("title", "reference_score"))
    assert scores == {first.title: first.rating, second.title: second.rating, third.title: None, "extra": None}
    assert Trailer.objects.count() == 4  # nothing stored twice

    # The same bytes under another name are another markup row's file: the trailer there keeps its score.
    other = tmp_path / "other"
    other.mkdir()
    (other / "copy.mp4").write_bytes(first.path.read_bytes())
    (tmp_path / "copy.csv").write_text("Title,Score\ncopy,9.5\n")
    with pytest.raises(CommandError, match="No trailer was imported"):
        call_command("import_trailers", str(other), "--markup", str(tmp_path / "copy.csv"), "--no-progress")
    assert "Its markup row was not applied to it." in capsys.readouterr().out
    assert Trailer.objects.get(title=first.title).reference_score == first.rating


def test_import_trailers_with_nothing_importable_fails(tmp_path):
    (tmp_path / "a.txt").write_text("nope")
    with pytest.raises(CommandError, match="No trailer was imported"):
        call_command("import_trailers", str(tmp_path), "--no-progress")
