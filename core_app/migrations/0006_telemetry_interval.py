# Issue 14. How often gateways push their collector's own metrics (the OpAMP own_metrics offer, docs/telemetry.md).

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flowgate_site", "0005_savings_prices"),
    ]

    operations = [
        migrations.AddField(
            model_name="orgsettings",
            name="telemetry_interval_seconds",
            field=models.PositiveIntegerField(
                default=30,
                help_text="How often each gateway's collector sends its own metrics (throughput, drops, queues) "
                "to the portal.",
                validators=[
                    django.core.validators.MinValueValidator(5),
                    django.core.validators.MaxValueValidator(3600),
                ],
                verbose_name="gateway metrics interval (seconds)",
            ),
        ),
    ]
