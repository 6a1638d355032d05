"""The API's shapes for comparing runs and versions, and a run's note."""

from __future__ import annotations

from rest_framework import serializers

from trailers import selectors_runs
from trailers.services.notes import NOTE_MAX

from .serializers import RefusesUnknownFields


class RunNoteSerializer(RefusesUnknownFields, serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX, allow_blank=True, trim_whitespace=True, required=False,
                                 help_text="the note; empty removes it, absent leaves it as it is")


class ComparedRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    preset = serializers.CharField()
    note = serializers.CharField()
    version = serializers.IntegerField(allow_null=True, help_text="the number of the version the run made (v3: 3); "
                                       "null when it made none, or it was deleted")
    model_version = serializers.IntegerField(allow_null=True, help_text="that version's id, as /api/model-versions/ "
                                             "names it")
    estimate = serializers.CharField()
    trailers = serializers.IntegerField()
    duration_seconds = serializers.FloatField(allow_null=True)
    figures = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                    help_text="val_mae, val_mae_sd, val_rmse, val_spearman, baseline_mae, "
                                              "single_frame_mae, neighbours_mae, head_mae")
    history = serializers.ListField(child=serializers.DictField(), help_text="per-epoch metrics, mean over folds")


class DifferingOptionSerializer(serializers.Serializer):
    group = serializers.CharField()
    option = serializers.CharField()
    values = serializers.ListField(child=serializers.JSONField(), help_text="one per run, in the runs' order")


class RunComparisonSerializer(serializers.Serializer):
    runs = ComparedRunSerializer(many=True)
    differing = DifferingOptionSerializer(many=True)
    same = serializers.IntegerField(help_text="options every run has alike")


def comparison_json(comparison: selectors_runs.RunComparison) -> dict:
    return {
        "runs": [{"id": c.run.pk, "status": c.run.display_status, "preset": c.run.preset, "note": c.run.note,
                  "version": c.run.model_version.number if getattr(c.run, "model_version", None) else None,
                  "model_version": c.run.model_version.pk if getattr(c.run, "model_version", None) else None,
                  "estimate": c.estimate, "trailers": c.trailers, "duration_seconds": c.duration,
                  "figures": c.figures, "history": c.history} for c in comparison.runs],
        "differing": [{"group": group, "option": option, "values": values}
                      for group, option, values in comparison.differing],
        "same": comparison.same,
    }


class TrailerChangeSerializer(serializers.Serializer):
    trailer = serializers.IntegerField()
    title = serializers.CharField()
    a = serializers.FloatField()
    b = serializers.FloatField()
    change = serializers.FloatField()
    mean_rating = serializers.FloatField(allow_null=True)


class VersionComparisonSerializer(serializers.Serializer):
    a = serializers.IntegerField(help_text="version a's number (v3: 3)")
    b = serializers.IntegerField(help_text="version b's number")
    a_id = serializers.IntegerField(help_text="version a's id, as the query named it")
    b_id = serializers.IntegerField(help_text="version b's id")
    trailers = serializers.IntegerField()
    rated = serializers.IntegerField()
    mae_a = serializers.FloatField(allow_null=True)
    mae_b = serializers.FloatField(allow_null=True)
    held_out = serializers.DictField(help_text="both on b's run's held-out trailers, against its labels: trailers, "
                                                 "new_mae (b), old_mae (a), label_source (user_mean or reference)")
    biggest_changes = TrailerChangeSerializer(many=True)
    worst_a = TrailerChangeSerializer(many=True)
    worst_b = TrailerChangeSerializer(many=True)


def version_comparison_json(c: selectors_runs.VersionComparison) -> dict:
    def rows(items):
        return [{"trailer": r.trailer_id, "title": r.title, "a": r.a, "b": r.b, "change": r.change,
                 "mean_rating": r.rated} for r in items]

    return {"a": c.a.number, "b": c.b.number, "a_id": c.a.pk, "b_id": c.b.pk, "trailers": c.trailers, "rated": c.rated, "mae_a": c.mae_a,
            "mae_b": c.mae_b, "held_out": c.held_out, "biggest_changes": rows(c.biggest_changes),
            "worst_a": rows(c.worst_a), "worst_b": rows(c.worst_b)}
