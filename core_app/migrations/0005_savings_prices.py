# Issue 14. Optional prices per million items per signal: the before-vs-after comparison's savings estimate
# (docs/telemetry.md).

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


def price(items):
    return models.DecimalField(
        blank=True,
        decimal_places=4,
        help_text=f"What your backend charges per million {items} (any currency). Empty: no estimate in money.",
        max_digits=12,
        null=True,
        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
        verbose_name=f"price per million {items}",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("flowgate_site", "0004_telemetry_settings"),
    ]

    operations = [
        migrations.AddField(model_name="orgsettings", name="price_per_million_log_records", field=price("log records")),
        migrations.AddField(
            model_name="orgsettings", name="price_per_million_metric_points", field=price("metric points")
        ),
        migrations.AddField(model_name="orgsettings", name="price_per_million_spans", field=price("spans")),
    ]
