# Issue 14. Operations added by hand or copied from `makemigrations --dry-run -v 3`.
# Throughput: per gateway × signal × minute (and hour) in/refused/dropped/sent/failed, written with the rollups,
# read by the gateway page, the dashboard and the throughput API.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry_app", "0002_metrics_health"),
        ("flowgate_site", "0004_telemetry_settings"),
        ("gateways_app", "0006_token_rotation"),
    ]

    operations = [
        migrations.CreateModel(
            name="Throughput",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "resolution",
                    models.CharField(choices=[("minute", "Minute"), ("hour", "Hour")], default="minute", max_length=6),
                ),
                ("bucket", models.DateTimeField()),
                ("signal", models.CharField(max_length=10)),
                ("received", models.BigIntegerField(default=0)),
                ("refused", models.BigIntegerField(default=0)),
                ("dropped", models.BigIntegerField(default=0)),
                ("sent", models.BigIntegerField(default=0)),
                ("failed", models.BigIntegerField(default=0)),
                (
                    "gateway",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="gateways_app.gateway"
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="%(app_label)s_%(class)s_set",
                        to="flowgate_site.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["bucket"],
                "indexes": [
                    models.Index(
                        fields=["organization", "resolution", "bucket"],
                        include=["signal", "gateway", "received", "refused", "dropped", "sent", "failed"],
                        name="telemetry_throughput_org_time",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("gateway", "resolution", "bucket", "signal"), name="telemetry_throughput_unique"
                    )
                ],
            },
        ),
    ]
