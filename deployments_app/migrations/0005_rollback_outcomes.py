# Issue 13. Operations added by hand or copied from `makemigrations --dry-run -v 3`.
# Honest rollbacks (deployments_app.rollback): a rollback no longer overwrites a target's status
# (a failed target stays failed) but records what it did in `rollback`; a deployment keeps how its
# rollout ended in `outcome`; `rolling_back` while returning targets are watched.

from django.db import migrations, models


def split_rollbacks(apps, schema_editor):
    """Rows from before: give rolled-back targets back the status they had, deployments their outcome.

    A target's status before its rollback is derived from what it kept: an error means it failed
    (cancel's error never comes with rolled_back), else applied_at / sent_at say how far it got.
    The old rollback gave a previous config back (`restored`, never confirmed by a report) or, when
    there was none, cleared the desired config (`withdrawn`).
    """
    Deployment = apps.get_model("deployments_app", "Deployment")
    DeploymentTarget = apps.get_model("deployments_app", "DeploymentTarget")
    DeploymentEvent = apps.get_model("deployments_app", "DeploymentEvent")
    for target in DeploymentTarget.objects.filter(status="rolled_back").iterator():
        if target.error:
            target.status = "failed"
        elif target.applied_at:
            target.status = "applied"
        elif target.sent_at:
            target.status = "sent"
        else:
            target.status = "pending"
        target.rollback = "restored" if target.previous_config_hash else "withdrawn"
        target.save(update_fields=["status", "rollback"])
    for status in ("succeeded", "failed", "cancelled"):
        Deployment.objects.filter(status=status).update(outcome=status)
    for deployment in Deployment.objects.filter(status="rolled_back").iterator():
        kinds = set(DeploymentEvent.objects.filter(deployment=deployment).values_list("kind", flat=True))
        outcome = next((kind for kind in ("succeeded", "cancelled") if kind in kinds), None)
        if outcome is None:
            outcome = "failed" if "stopped" in kinds else "rolled_back"
        deployment.outcome = outcome
        deployment.save(update_fields=["outcome"])


def join_rollbacks(apps, schema_editor):
    """Back to one status: targets that a rollback touched become rolled_back again."""
    DeploymentTarget = apps.get_model("deployments_app", "DeploymentTarget")
    DeploymentTarget.objects.filter(rollback__in=["returning", "restored", "withdrawn"]).update(status="rolled_back")


class Migration(migrations.Migration):
    dependencies = [
        ("deployments_app", "0004_deployment_validation"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                    ("rolled_back", "Rolled back"),
                ],
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="deploymenttarget",
            name="rollback",
            field=models.CharField(
                blank=True,
                choices=[
                    ("returning", "Returning"),
                    ("restored", "Restored"),
                    ("failed", "Rollback failed"),
                    ("kept", "Kept: no previous config"),
                    ("withdrawn", "Withdrawn: never sent"),
                    ("left_alone", "Left alone"),
                ],
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="deploymenttarget",
            name="rollback_error",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="deploymenttarget",
            name="rollback_sent_at",
            field=models.DateTimeField(
                blank=True, help_text="When its gateway was sent its previous config (connected).", null=True
            ),
        ),
        migrations.RunPython(split_rollbacks, join_rollbacks),
        migrations.AlterField(
            model_name="deployment",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("validating", "Validating"),
                    ("rolling_out", "Rolling out"),
                    ("rolling_back", "Rolling back"),
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
                    ("rollback_started", "Rollback started"),
                    ("restored", "Previous config applied"),
                    ("rollback_failed", "Rollback failed"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="deploymenttarget",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("sent", "Sent"), ("applied", "Applied"), ("failed", "Failed")],
                default="pending",
                max_length=12,
            ),
        ),
    ]
