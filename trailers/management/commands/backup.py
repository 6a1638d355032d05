"""`manage.py backup DIR`: a consistent copy of the embedded database and every stored file, for a restore.

For the embedded default (SQLite, media in a folder): the database is copied with SQLite's online backup, a
snapshot of one moment however the site writes meanwhile (a plain ``cp`` of the file misses what is still in its
write-ahead log); then the media folder; then the copy is checked: every file the copied database names must be in
the copied media (one deleted between the two steps is named, and the command exits 1). Restore: stop the site,
put ``DIR/db.sqlite3`` and ``DIR/media`` back as VAR_DIR's ``db.sqlite3`` and ``media``, start it.

PostgreSQL and an object store have their own tools, which this names instead of copying half of the data.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from trailers.store import is_local

FILE_FIELDS = [("trailers_trailer", "file"), ("trailers_trailer", "browser_copy"), ("trailers_subclip", "frames"),
               ("trailers_subclip", "contact_sheet"), ("trailers_subclip", "embeddings"),
               ("trailers_modelversion", "weights")]


class Command(BaseCommand):
    help = ("Copy the embedded SQLite database (a consistent snapshot, while the site runs) and the media folder "
            "into DIR, then check that every file the copied database names is in the copied media. With "
            "PostgreSQL or an object store it says which tools back those up instead.")

    def add_arguments(self, parser):
        parser.add_argument("dir", metavar="DIR", type=Path, help="an empty or new folder for the copy")

    def handle(self, *args, dir: Path, **options):
        if connection.vendor != "sqlite":
            raise CommandError("The database is PostgreSQL: back it up with pg_dump (pg_dump -Fc -f reelscore.dump "
                               "\"$DATABASE_URL\"), and restore with pg_restore; media as below.")
        if not is_local():
            raise CommandError("Media are in an object store: keep them with the store's own versioning or a copy of "
                               "the bucket (aws s3 sync s3://BUCKET DIR), taken after the database's.")
        if dir.exists() and any(dir.iterdir()):
            raise CommandError(f"{dir} is not empty: give a new or empty folder (nothing of an older copy is mixed in)")
        dir.mkdir(parents=True, exist_ok=True)
        database = dir / "db.sqlite3"
        source = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            target = sqlite3.connect(database)
            with target:
                source.backup(target)
            target.close()
        finally:
            source.close()
        media = dir / "media"
        root = Path(settings.MEDIA_ROOT)
        if root.is_dir():
            shutil.copytree(root, media, ignore=shutil.ignore_patterns(".tmp-*", "incoming"))
        else:
            media.mkdir()
        missing = _missing_files(database, media)
        size = sum(p.stat().st_size for p in dir.rglob("*") if p.is_file())
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise CommandError(f"The copy in {dir} names {len(missing)} file(s) its media do not hold ({shown}): they "
                               "were deleted while it was made. Run it again into a new folder.")
        self.stdout.write(f"Copied the database and {sum(1 for p in media.rglob('*') if p.is_file())} media file(s) "
                          f"into {dir} ({size / 1e6:.1f} MB); every file the database names is there.")


def _missing_files(database: Path, media: Path) -> list[str]:
    """The names the copied database's file fields hold that the copied media lack."""
    copy = sqlite3.connect(database)
    try:
        names = [name for table, column in FILE_FIELDS
                 for (name,) in copy.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" != \'\'')]  # noqa: S608
    finally:
        copy.close()
    return sorted(name for name in names if not (media / name).is_file())
