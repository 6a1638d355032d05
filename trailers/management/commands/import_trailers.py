"""`manage.py import_trailers DIR [--markup FILE]`: ingest every video in a folder.

Each file goes through the same ingest service as a web upload. The seed's markup
(Title, Score; CSV, XLS or XLSX) gives reference scores, matched by file name
without its extension or with it (the command says which rule matched). Files that cannot serve are reported with the reason.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ml.markup import MarkupError, match_markup, read_markup
from trailers.services import IngestError, ingest_trailer, set_reference_score


class Command(BaseCommand):
    help = "Import every video file in DIR as a trailer; --markup gives reference scores (Title, Score)."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--markup", type=Path, help="the seed's markup file: columns Title, Score")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, directory: Path, markup: Path | None, no_progress: bool, **options):
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a folder.")
        scores: dict[str, float] = {}
        if markup is not None:
            try:
                scores = read_markup(markup)
            except (MarkupError, OSError) as exc:
                raise CommandError(f"Cannot read the markup file {markup}: {exc}") from exc
        files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise CommandError(f"{directory} holds no files.")
        try:
            matched = match_markup(scores, {p.name: p.name for p in files})
        except MarkupError as exc:
            raise CommandError(f"Cannot use the markup file {markup}: {exc}") from exc

        imported, updated, skipped = [], [], []
        before = 0  # files imported before, as they are: importing a folder again is no error
        for path in tqdm(files, desc="Importing", unit="file", disable=no_progress, file=self.stderr._out):
            score = matched.scores.get(path.name)
            try:
                trailer = ingest_trailer(source=path, original_name=path.name, reference_score=score)
            except IngestError as exc:
                # The same file imported before: the markup may bring (or change) its reference score. The same
                # bytes under another name are another row's file: that row says nothing of the trailer there.
                again = exc.duplicate_of is not None and exc.duplicate_of.original_name == path.name
                if again and score is not None and set_reference_score(trailer=exc.duplicate_of, score=score):
                    updated.append(exc.duplicate_of)
                else:
                    before += again
                    skipped.append((path.name, str(exc) + ("" if again or exc.duplicate_of is None or score is None
                                                            else " Its markup row was not applied to it.")))
                continue
            imported.append(trailer)

        for name, reason in skipped:
            self.stdout.write(self.style.WARNING(f"Skipped {name}: {reason}"))
        if markup is not None:
            unscored = sorted(t.original_name for t in imported if t.reference_score is None)
            if unscored:
                self.stdout.write(self.style.WARNING(
                    f"No markup row for {', '.join(unscored)}: imported without a reference score."))
            # Said of the files that were imported, or whose trailer took the score: a skipped file matched nothing.
            left_out = {name for name, _ in skipped}
            used = match_markup(scores, {p.name: p.name for p in files if p.name not in left_out})
            self.stdout.write(f"Markup: {used.describe()}.")
            unmatched = sorted(matched.unmatched)
            if unmatched:
                self.stdout.write(f"Markup titles with no file: {', '.join(unmatched)}")
        if updated:
            self.stdout.write(f"Updated the reference score of {len(updated)} trailer(s) imported before: "
                              f"{', '.join(t.title for t in updated)}.")
        with_score = sum(1 for t in imported if t.reference_score is not None)
        self.stdout.write(self.style.SUCCESS(
            f"Imported {len(imported)} trailer(s) ({with_score} with a reference score); skipped {len(skipped)}."
        ))
        if not imported and not updated and before < len(skipped):
            raise CommandError("No trailer was imported.")
