"""The statuses of deployments and their targets, apart from the models so that querysets.py can use them too.

deployments_app.models imports them: `from deployments_app.models import TargetStatus` works as before.
"""

from django.db import models


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VALIDATING = "validating", "Validating"
    ROLLING_OUT = "rolling_out", "Rolling out"
    PAUSED = "paused", "Paused"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"
    # The validating task found that the targets cannot run the version (deployments_app.target_check).
    REFUSED = "refused", "Refused"


class TargetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
