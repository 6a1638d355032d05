"""A run's dataset split sizes as columns (filled here from each frozen dataset), so that lists and pages need
not load the dataset itself."""

from django.db import migrations, models


def fill_split_sizes(apps, schema_editor):
    TrainingRun = apps.get_model("trailers", "TrainingRun")
    for run in TrainingRun.objects.exclude(dataset=[]).only("pk", "dataset").iterator(chunk_size=20):
        splits = [entry.get("split") for entry in run.dataset or []]
        TrainingRun.objects.filter(pk=run.pk).update(
            dataset_trailers=len(splits), dataset_train=splits.count("train"), dataset_val=splits.count("val"),
            dataset_cross_validated=splits.count("cv"),
        )


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0008_trailer_rating_counters_and_list_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingrun',
            name='dataset_cross_validated',
            field=models.PositiveIntegerField(default=0, help_text='its trailers held out once each'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='dataset_trailers',
            field=models.PositiveIntegerField(default=0, help_text='how many trailers the dataset holds'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='dataset_train',
            field=models.PositiveIntegerField(default=0, help_text='its training split (runs without folds)'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='dataset_val',
            field=models.PositiveIntegerField(default=0, help_text='its validation split (runs without folds)'),
        ),
        migrations.RunPython(fill_split_sizes, migrations.RunPython.noop, elidable=False),
    ]
