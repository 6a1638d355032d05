"""Every trailer keeps its ratings' count, sum and mean (filled here from the ratings there are), and the lists
get indexes for the orders they use: the dataset's default order, "rate next" and the admin's ratings."""

import django.db.models.expressions
from django.db import migrations, models
from django.db.models import Count, Exists, FloatField, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Cast


def fill_rating_counters(apps, schema_editor):
    Rating = apps.get_model("trailers", "Rating")
    Trailer = apps.get_model("trailers", "Trailer")
    ratings = Rating.objects.filter(trailer=OuterRef("pk")).order_by().values("trailer")
    count = Subquery(ratings.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
    total = Subquery(ratings.annotate(s=Sum("score")).values("s"), output_field=IntegerField())
    # Trailers without ratings keep the defaults: count 0, sum 0, no mean.
    Trailer.objects.filter(Exists(Rating.objects.filter(trailer=OuterRef("pk")))).update(
        rating_count=count, rating_sum=total,
        mean_rating=Cast(total, FloatField()) / Cast(count, FloatField()),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('trailers', '0007_run_preset_and_note'),
    ]

    operations = [
        migrations.AddField(
            model_name='trailer',
            name='mean_rating',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='trailer',
            name='rating_count',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='trailer',
            name='rating_sum',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(fill_rating_counters, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name='trailer',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('mean_rating__isnull', True), ('rating_count', 0), ('rating_sum', 0)), models.Q(('mean_rating__isnull', False), ('rating_count__gt', 0), ('rating_sum__gte', models.F('rating_count')), ('rating_sum__lte', django.db.models.expressions.CombinedExpression(models.F('rating_count'), '*', models.Value(10)))), _connector='OR'), name='trailer_rating_counters_agree'),
        ),
        migrations.AddIndex(
            model_name='trailer',
            index=models.Index(fields=['-uploaded_at', '-id'], name='trailer_uploaded_desc'),
        ),
        migrations.AddIndex(
            model_name='trailer',
            index=models.Index(fields=['rating_count', 'uploaded_at', 'id'], name='trailer_rating_count'),
        ),
        migrations.AlterModelOptions(
            name='rating',
            options={'ordering': ['-updated_at', '-id']},
        ),
        migrations.AddIndex(
            model_name='rating',
            index=models.Index(fields=['-updated_at', '-id'], name='rating_updated_desc'),
        ),
    ]
