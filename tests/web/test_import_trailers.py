"""`manage.py import_trailers`: markup titles match file names with or without their extension."""

from __future__ import annotations

import shutil
from io import StringIO

import pytest
from django.core.management import call_command

from trailers.models import Trailer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("titles", "rule"), [
    (("t000.mp4", "t001.mp4"), "2 titles matched by the file name with its extension"),
    (("t000", "t001"), "2 titles matched by the file name without its extension"),
])
def test_markup_titles_with_or_without_extension_give_scores_and_the_rule_is_said(
        tmp_path, synthetic_video, other_synthetic_video, titles, rule):
    folder = tmp_path / "import"
    folder.mkdir()
    shutil.copy(synthetic_video, folder / "t000.mp4")
    shutil.copy(other_synthetic_video, folder / "t001.mp4")
    markup = tmp_path / "markup.csv"
    markup.write_text(f"Title,Score\n{titles[0]},7.5\n{titles[1]},3\nt999.mp4,5\n")
    out = StringIO()
    call_command("import_trailers", str(folder), "--markup", str(markup), "--no-progress", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert f"Markup: {rule}." in text
    assert "Markup titles with no file: t999.mp4" in text
    assert dict(Trailer.objects.values_list("original_name", "reference_score")) == {"t000.mp4": 7.5, "t001.mp4": 3.0}
    assert "Imported 2 trailer(s) (2 with a reference score)" in text


def test_a_skipped_file_is_not_counted_as_matched(tmp_path, synthetic_video):
    folder = tmp_path / "import"
    folder.mkdir()
    shutil.copy(synthetic_video, folder / "t000.mp4")
    (folder / "text.mp4").write_text("not a video")  # refused: its markup row serves no trailer
    markup = tmp_path / "markup.csv"
    markup.write_text("Title,Score\nt000.mp4,7.5\ntext.mp4,3\n")
    out = StringIO()
    call_command("import_trailers", str(folder), "--markup", str(markup), "--no-progress", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "Skipped text.mp4:" in text
    assert "Markup: 1 title matched by the file name with its extension." in text


def test_importing_a_folder_again_is_no_error_but_a_file_that_cannot_serve_still_is(tmp_path, synthetic_video):
    folder = tmp_path / "import"
    folder.mkdir()
    shutil.copy(synthetic_video, folder / "t000.mp4")
    call_command("import_trailers", str(folder), "--no-progress", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("import_trailers", str(folder), "--no-progress", stdout=out, stderr=StringIO())  # exit 0: no raise
    assert "Skipped t000.mp4: This file was already uploaded" in out.getvalue()
    assert "Imported 0 trailer(s) (0 with a reference score); skipped 1." in out.getvalue()
    (folder / "notes.txt").write_text("not a trailer")
    with pytest.raises(Exception, match="No trailer was imported"):
        call_command("import_trailers", str(folder), "--no-progress", stdout=StringIO(), stderr=StringIO())
    assert Trailer.objects.count() == 1
