# Issue 14: health from metrics (telemetry_app/health.py): the problems a gateway's own metrics show.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ('gateways_app', '0006_token_rotation'),
    ]

    operations = [
        migrations.AddField(
            model_name='gateway',
            name='metrics_problem',
            field=models.TextField(blank=True, help_text="What the collector's own metrics show wrong now (empty: nothing); see metrics_errors."),
        ),
        migrations.AddField(
            model_name='gateway',
            name='metrics_degraded_since',
            field=models.DateTimeField(blank=True, help_text="When the oldest open problem seen in the collector's own metrics began.", null=True),
        ),
        migrations.AddField(
            model_name='gateway',
            name='metrics_errors',
            field=models.JSONField(blank=True, default=list, help_text="Problems seen in the collector's own metrics, newest first, dated and marked resolved."),
        ),
    ]
