"""Each prediction keeps its novelty: how unlike the trailers its version learnt from the trailer looks
(ml.predict.Scores.novelty), null for versions without it. The predictions page sorts by it from an index; on
PostgreSQL the descending order (the least familiar first) gets its DESC NULLS LAST index too, as migration 0017
gives the error. Predictions already there keep null: their versions' files kept no distances."""

from django.db import migrations, models

DESC_NULLS_LAST = "prediction_novelty_desc"


def index_descending(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{DESC_NULLS_LAST}" ON "trailers_prediction" '
                              '("model_version_id", "novelty" DESC NULLS LAST, "id" DESC)')


def drop_descending(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{DESC_NULLS_LAST}"')


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0020_processing_and_run_attempts'),
    ]

    operations = [
        migrations.AddField(
            model_name='prediction',
            name='novelty',
            field=models.FloatField(blank=True, help_text="how unlike the trailers the version learnt from this trailer looks: its distance from them over the typical distance of a cross-validation fold's trailers from theirs (1: as unlike as those; its interval is wider the larger it is); empty for a version without embeddings or from before it was kept", null=True),
        ),
        migrations.AddIndex(
            model_name='prediction',
            index=models.Index(fields=['model_version', 'novelty', 'id'], name='prediction_novelty'),
        ),
        migrations.RunPython(index_descending, drop_descending),
    ]
