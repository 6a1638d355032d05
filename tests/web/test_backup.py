"""`manage.py backup DIR`: the embedded database and media copied whole while the site runs, and checked."""

from __future__ import annotations

import sqlite3

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from trailers.models import Trailer


@pytest.mark.django_db(transaction=True)  # the copy is read by another connection: the rows must be committed
def test_a_backup_holds_the_database_and_every_file_it_names(make_trailer, tmp_path, capsys):
    if connection.vendor != "sqlite":
        with pytest.raises(CommandError, match="PostgreSQL: back it up with pg_dump"):
            call_command("backup", str(tmp_path / "copy"))
        return
    trailers = [make_trailer(title=f"Backed up {n}") for n in range(2)]
    call_command("backup", str(tmp_path / "copy"))
    assert "every file the database names is there" in capsys.readouterr().out
    copy = sqlite3.connect(tmp_path / "copy" / "db.sqlite3")
    assert sorted(t for (t,) in copy.execute("SELECT title FROM trailers_trailer")) == ["Backed up 0", "Backed up 1"]
    for trailer in trailers:
        assert (tmp_path / "copy" / "media" / trailer.file.name).read_bytes() == trailer.file.open("rb").read()
    with pytest.raises(CommandError, match="is not empty"):
        call_command("backup", str(tmp_path / "copy"))  # nothing of an older copy is mixed in
    trailers[0].file.storage.delete(trailers[0].file.name)  # a file gone that the database still names
    with pytest.raises(CommandError, match=r"names 1 file\(s\) its media do not hold \(trailers/"):
        call_command("backup", str(tmp_path / "again"))
    Trailer.objects.all().delete()
