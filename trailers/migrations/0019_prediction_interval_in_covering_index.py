"""On PostgreSQL the (model_version, trailer) index of predictions also carries the 80% interval (INCLUDE): the
dataset page, which now shows the active prediction's interval, still joins it from the index alone (0011)."""

from django.db import migrations

TABLE, NAME, COLUMNS = "trailers_prediction", "prediction_one_per_version_trailer", "model_version_id, trailer_id"


def _carrying(include: str):
    def change(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{NAME}", ADD CONSTRAINT "{NAME}" '
                              f"UNIQUE ({COLUMNS}) INCLUDE ({include})")
    return change


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0018_prediction_interval'),
    ]

    operations = [
        migrations.RunPython(_carrying("score, spread, uncertainty, low, high"),
                             _carrying("score, spread, uncertainty")),
    ]
