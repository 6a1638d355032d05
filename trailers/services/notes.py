"""Staff's notes on runs."""

from __future__ import annotations

from trailers.models import TrainingRun

NOTE_MAX = 2000


def set_run_note(*, run: TrainingRun, note: str) -> TrainingRun:
    """Replace ``run``'s note (surrounding spaces dropped; empty removes it)."""
    note = (note or "").strip()[:NOTE_MAX]
    TrainingRun.objects.filter(pk=run.pk).update(note=note)
    run.note = note
    return run
