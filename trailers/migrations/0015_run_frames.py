"""A run keeps what the frames of its dataset were when its worker read them (``TrainingRun.frames``), so its page
no longer measures them on every view (a query over its whole dataset's subclips: 230 ms at 50,000 trailers, and
the page's live part asks every few seconds). Runs from before get the frames their trailers have now."""

from django.db import migrations, models

from trailers.selectors import measure_run_frames


def fill(apps, schema_editor):
    TrainingRun = apps.get_model("trailers", "TrainingRun")
    for pk in TrainingRun.objects.filter(dataset_trailers__gt=0).values_list("pk", flat=True).iterator():
        TrainingRun.objects.filter(pk=pk).update(frames=measure_run_frames(pk))


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0014_prediction_standing'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingrun',
            name='frames',
            field=models.JSONField(blank=True, default=dict, help_text="the subclips its dataset's trailers had when its worker read them: how many, how long (selectors.RunFrames)"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
