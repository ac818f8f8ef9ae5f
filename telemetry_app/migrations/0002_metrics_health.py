# Issue 14: health from metrics: each gateway's rule streaks, kept beside its series state (health.py).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ('telemetry_app', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='seriesstate',
            name='health',
            field=models.JSONField(default=dict),
        ),
    ]
