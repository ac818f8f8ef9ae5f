"""The statuses of deployments and their targets, apart from the models so that querysets.py can use them too.

deployments_app.models imports them: `from deployments_app.models import TargetStatus` works as before.
"""

from django.db import models


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VALIDATING = "validating", "Validating"
    ROLLING_OUT = "rolling_out", "Rolling out"
    # A rollback was started: the targets it gave their previous config back are watched until
    # their gateways report it applied (or fail), as a rollout's targets are (deployments_app.rollback).
    ROLLING_BACK = "rolling_back", "Rolling back"
    PAUSED = "paused", "Paused"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"
    # The validating task found that the targets cannot run the version (deployments_app.target_check).
    REFUSED = "refused", "Refused"


class TargetStatus(models.TextChoices):
    """How the rollout went for one target. A later rollback does not change it (see RollbackState):
    a target that failed stays failed, so the failure is still counted after the rollback."""

    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class RollbackState(models.TextChoices):
    """What a rollback did to one target (blank: never rolled back). Only `restored` is a confirmed return."""

    RETURNING = "returning", "Returning"  # given its previous config back; its gateway has not applied it yet
    RESTORED = "restored", "Restored"  # its gateway reported APPLIED with the previous config's hash
    FAILED = "failed", "Rollback failed"  # the gateway reported FAILED for it, or nothing within the apply timeout
    KEPT = "kept", "Kept: no previous config"  # nothing to return to: it keeps this deployment's version
    WITHDRAWN = "withdrawn", "Withdrawn: never sent"  # its gateway never got this version; nothing to return to
    LEFT_ALONE = "left_alone", "Left alone"  # its desired config changed since (another deployment)


class Outcome(models.TextChoices):
    """How a deployment's rollout ended, kept when it is rolled back afterwards (the dashboard counts these)."""

    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    ROLLED_BACK = "rolled_back", "Rolled back"  # an operator rolled it back before it finished
