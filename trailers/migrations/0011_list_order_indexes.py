"""An index for every order the dataset and predictions pages offer (the id breaking ties in the same direction).
On PostgreSQL, the nullable columns also get a DESC NULLS LAST index, and "your rating" and the active prediction
are carried in their unique indexes (INCLUDE): SQLite can make neither (it sorts those few rows itself)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# PostgreSQL only (SQLite has neither DESC NULLS LAST indexes nor INCLUDE), so not in the models' state:
# index name: column of trailers_trailer, read backwards-and-nulls-last for descending sorts;
DESC_NULLS_LAST = {"trailer_duration_desc": "duration", "trailer_mean_rating_desc": "mean_rating",
                   "trailer_reference_score_desc": "reference_score"}
# and unique constraints whose index carries what lists read through it: (table, name, columns, included).
COVERING = [("trailers_rating", "rating_one_per_user_trailer", "user_id, trailer_id", "score"),
            ("trailers_prediction", "prediction_one_per_version_trailer", "model_version_id, trailer_id",
             "score, spread, uncertainty")]


def _unique(schema_editor, table, name, columns, include=""):
    schema_editor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}", ADD CONSTRAINT "{name}" '
                          f'UNIQUE ({columns}){f" INCLUDE ({include})" if include else ""}')


def create_postgresql_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in DESC_NULLS_LAST.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "trailers_trailer" '
                              f'("{column}" DESC NULLS LAST, "id" DESC)')
    for table, name, columns, include in COVERING:
        _unique(schema_editor, table, name, columns, include)


def drop_postgresql_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in DESC_NULLS_LAST:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    for table, name, columns, _ in COVERING:
        _unique(schema_editor, table, name, columns)


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0010_prediction_summary_and_scored_at'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The unique (model_version, trailer) and (user, trailer) indexes serve lookups by their first column: the
        # foreign keys' own indexes only cost writes (5 million ratings).
        migrations.AlterField(
            model_name='prediction',
            name='model_version',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='predictions', to='trailers.modelversion'),
        ),
        migrations.AlterField(
            model_name='rating',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='ratings', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='trailer',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('processing', 'Processing'), ('ready', 'Ready'), ('failed', 'Failed')], default='queued', max_length=20),
        ),
        migrations.AlterField(
            model_name='trailer',
            name='title',
            field=models.CharField(max_length=255),
        ),
        migrations.AddIndex(
            model_name='prediction',
            index=models.Index(fields=['model_version', 'score', 'id'], name='prediction_score'),
        ),
        migrations.AddIndex(
            model_name='prediction',
            index=models.Index(fields=['model_version', 'uncertainty', 'id'], name='prediction_uncertainty'),
        ),
        migrations.AddIndex(
            model_name='prediction',
            index=models.Index(fields=['model_version', 'spread', 'id'], name='prediction_spread'),
        ),
        migrations.AddIndex(
            model_name='trailer',
            index=models.Index(fields=['title', 'id'], name='trailer_title'),
        ),
        migrations.AddIndex(
            model_name='trailer',
            index=models.Index(fields=['status', 'id'], name='trailer_status'),
        ),
        migrations.AddIndex(
            model_name='trailer',
            index=models.Index(fields=['duration', 'id'], name='trailer_duration'),
        ),
        migrations.AddIndex(
            model_name='trailer',
            index=models.Index(fields=['mean_rating', 'id'], name='trailer_mean_rating'),
        ),
        migrations.AddIndex(
            model_name='trailer',
            index=models.Index(fields=['reference_score', 'id'], name='trailer_reference_score'),
        ),
        migrations.RunPython(create_postgresql_indexes, drop_postgresql_indexes, elidable=False),
    ]
