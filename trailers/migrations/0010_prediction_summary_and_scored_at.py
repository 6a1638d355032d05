"""Each model version's predictions-page figures, kept (made by the scoring and the sweep), and when it last had a
prediction for every ready trailer."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0009_run_dataset_split_sizes'),
    ]

    operations = [
        migrations.CreateModel(
            name='PredictionSummary',
            fields=[
                ('model_version', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='summary', serialize=False, to='trailers.modelversion')),
                ('figures', models.JSONField(default=dict)),
                ('points', models.JSONField(default=list)),
                ('predictions', models.PositiveIntegerField(default=0, help_text='how many predictions the version had then')),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('stale', models.BooleanField(default=False)),
            ],
        ),
        migrations.AddField(
            model_name='modelversion',
            name='scored_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
