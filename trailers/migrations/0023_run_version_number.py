# Each run keeps the number of the version it made, so that a deleted version's number is never given again.

from django.db import migrations, models


def numbers_to_runs(apps, schema_editor):
    TrainingRun = apps.get_model("trailers", "TrainingRun")
    ModelVersion = apps.get_model("trailers", "ModelVersion")
    for run_id, number in ModelVersion.objects.values_list("run_id", "number"):
        TrainingRun.objects.filter(pk=run_id).update(version_number=number)


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0022_prediction_summary_plural'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingrun',
            name='version_number',
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(numbers_to_runs, migrations.RunPython.noop),
    ]
