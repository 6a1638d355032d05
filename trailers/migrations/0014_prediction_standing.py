"""Each prediction keeps what its version knew of the trailer (trained on it, its held-out prediction, its
mean-rating baseline: trailers/standing.py), so the predictions page's figures over filtered rows no longer read
the run's whole dataset and cross-validation. The predictions made before get theirs from their run's."""

from django.db import migrations, models

from trailers.standing import RunStanding, keep_on_predictions


def fill(apps, schema_editor):
    ModelVersion = apps.get_model("trailers", "ModelVersion")
    TrainingRun = apps.get_model("trailers", "TrainingRun")
    Prediction = apps.get_model("trailers", "Prediction")
    for pk, run_id in ModelVersion.objects.values_list("pk", "run_id").iterator():
        dataset, estimate = TrainingRun.objects.filter(pk=run_id).values_list("dataset", "cross_validation").get()
        keep_on_predictions(Prediction, model_version_id=pk, standing=RunStanding(dataset, estimate))


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0013_train_config_random_seed'),
    ]

    operations = [
        migrations.AddField(
            model_name='prediction',
            name='baseline',
            field=models.FloatField(blank=True, help_text="the mean-rating baseline's prediction of this trailer, as the version's estimate scored it", null=True),
        ),
        migrations.AddField(
            model_name='prediction',
            name='held_out_score',
            field=models.FloatField(blank=True, help_text="a cross-validated version's own trailer: the prediction of the fold model that never trained on it", null=True),
        ),
        migrations.AddField(
            model_name='prediction',
            name='trained',
            field=models.BooleanField(default=False, help_text='the version learned from this trailer'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
