# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gateways_app", "0005_health_error_history"),
        ("flowgate_site", "0002_token_rotation_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="opamptoken",
            name="grace_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="gateway",
            name="offered_opamp_token",
            field=models.ForeignKey(
                blank=True,
                help_text="New OpAMP token offered to the agent over OpAMP; cleared once the agent connects with it.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="gateways_app.opamptoken",
            ),
        ),
        migrations.AddField(
            model_name="gateway",
            name="opamp_token_rotated_at",
            field=models.DateTimeField(
                blank=True, help_text="When the agent last connected with a token offered to it.", null=True
            ),
        ),
        migrations.AddField(
            model_name="gateway",
            name="connection_settings_status",
            field=models.CharField(
                choices=[("unset", "Unset"), ("applying", "Applying"), ("applied", "Applied"), ("failed", "Failed")],
                default="unset",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="gateway",
            name="connection_settings_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="gateway",
            name="connection_settings_error",
            field=models.TextField(blank=True),
        ),
    ]
