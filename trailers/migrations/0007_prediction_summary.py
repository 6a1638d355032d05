"""Each model version's predictions-page figures, kept (made by the scoring and the sweep)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0006_run_dataset_split_sizes'),
    ]

    operations = [
        migrations.CreateModel(
            name='PredictionSummary',
            fields=[
                ('model_version', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='summary', serialize=False, to='trailers.modelversion')),
                ('figures', models.JSONField(default=dict)),
                ('points', models.JSONField(default=list)),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('stale', models.BooleanField(default=False)),
            ],
        ),
    ]
