# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.
# Deployments are checked against their targets (deployments_app.target_check): the result, an
# admin's override, and the "refused" end state with its timeline entries.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deployments_app", "0003_add_deployment_event"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="forced",
            field=models.BooleanField(default=False, help_text="An admin deployed despite the target check's refusal."),
        ),
        migrations.AddField(
            model_name="deployment",
            name="validated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="deployment",
            name="validation",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="deployment",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("validating", "Validating"),
                    ("rolling_out", "Rolling out"),
                    ("paused", "Paused"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("rolled_back", "Rolled back"),
                    ("cancelled", "Cancelled"),
                    ("refused", "Refused"),
                ],
                default="pending",
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="deploymentevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("validated", "Validated"),
                    ("refused", "Refused"),
                    ("started", "Started"),
                    ("batch_started", "Batch started"),
                    ("delivered", "Delivered after reconnecting"),
                    ("applied", "Applied"),
                    ("failed", "Failed"),
                    ("gate_passed", "Gate passed"),
                    ("paused", "Paused"),
                    ("resumed", "Resumed"),
                    ("cancelled", "Cancelled"),
                    ("stopped", "Stopped"),
                    ("rolled_back", "Rolled back"),
                    ("succeeded", "Succeeded"),
                ],
                max_length=20,
            ),
        ),
    ]
