# Issue 14. How long gateway telemetry rollups are kept (telemetry_app, docs/telemetry.md).

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flowgate_site", "0003_user_last_org"),
    ]

    operations = [
        migrations.AddField(
            model_name="orgsettings",
            name="telemetry_hour_retention_days",
            field=models.PositiveIntegerField(
                default=90,
                help_text="Older hourly throughput rows are deleted.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(3660),
                ],
                verbose_name="keep hourly telemetry (days)",
            ),
        ),
        migrations.AddField(
            model_name="orgsettings",
            name="telemetry_minute_retention_hours",
            field=models.PositiveIntegerField(
                default=48,
                help_text="Older per-minute throughput rows are summed into hourly rows.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(336),
                ],
                verbose_name="keep per-minute telemetry (hours)",
            ),
        ),
    ]
