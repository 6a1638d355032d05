"""TrainConfig's ``seed`` is now ``random_seed`` ("seed" also names the original project, the seed preset): the
stored training options of runs and versions get the new name, so the run pages, "new run like this" and the
comparison of runs read one name. Checkpoints and model files keep theirs: TrainConfig.from_dict reads both."""

from django.db import migrations

OLD, NEW = "seed", "random_seed"


def _renamed(options: dict, old: str, new: str) -> dict:
    return {new if key == old else key: value for key, value in options.items()}


def rename(apps, old: str, new: str) -> None:
    TrainingRun = apps.get_model("trailers", "TrainingRun")
    ModelVersion = apps.get_model("trailers", "ModelVersion")
    for run in TrainingRun.objects.filter(train_config__has_key=old).only("pk", "train_config").iterator():
        TrainingRun.objects.filter(pk=run.pk).update(train_config=_renamed(run.train_config, old, new))
    for version in ModelVersion.objects.filter(config__train__has_key=old).only("pk", "config").iterator():
        config = {**version.config, "train": _renamed(version.config["train"], old, new)}
        ModelVersion.objects.filter(pk=version.pk).update(config=config)


def forwards(apps, schema_editor):
    rename(apps, OLD, NEW)


def backwards(apps, schema_editor):
    rename(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [("trailers", "0012_trailer_search_trigram")]

    operations = [migrations.RunPython(forwards, backwards)]
