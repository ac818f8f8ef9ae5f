"""Deployments of a template version to a set of gateways, and their per-gateway targets."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from core_app.models import OrgOwnedModel, Strategy
from core_app.querysets import child_queryset
from deployments_app.choices import DeploymentStatus, Outcome, RollbackState, TargetStatus
from deployments_app.querysets import DeploymentQuerySet, waiting_offline_filter

FINISHED_STATUSES = {
    DeploymentStatus.SUCCEEDED,
    DeploymentStatus.FAILED,
    DeploymentStatus.ROLLED_BACK,
    DeploymentStatus.CANCELLED,
    DeploymentStatus.REFUSED,
}

percent = [MinValueValidator(1), MaxValueValidator(100)]


class Deployment(OrgOwnedModel):
    """Sending one template version to the gateways matched by a selector, with a strategy.

    The selector is the union of the explicitly named gateways and the gateways that carry
    every one of the selector tags (an empty tag list matches no gateway by tags).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template_version = models.ForeignKey(
        "templates_app.TemplateVersion", on_delete=models.PROTECT, related_name="deployments"
    )
    selector_tags = models.ManyToManyField("gateways_app.Tag", blank=True, related_name="deployments")
    selector_gateways = models.ManyToManyField("gateways_app.Gateway", blank=True, related_name="+")
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.ALL_AT_ONCE)
    batch_size = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    batch_percent = models.PositiveIntegerField(null=True, blank=True, validators=percent)
    canary_count = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    canary_percent = models.PositiveIntegerField(null=True, blank=True, validators=percent)
    pause_seconds = models.PositiveIntegerField(default=0, help_text="Wait between batches.")
    health_window_seconds = models.PositiveIntegerField(default=60)
    apply_timeout_seconds = models.PositiveIntegerField(default=300)
    failure_threshold_count = models.PositiveIntegerField(null=True, blank=True)
    failure_threshold_percent = models.PositiveIntegerField(null=True, blank=True, validators=percent)
    auto_rollback = models.BooleanField(default=True)
    status = models.CharField(max_length=12, choices=DeploymentStatus.choices, default=DeploymentStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Rollout engine state (deployments_app.rollout): which batch was sent last, when its gate
    # passed, and when the next tick is due (a tick chain older than that is lost; reconcile restarts it).
    current_batch = models.PositiveIntegerField(null=True, blank=True, help_text="The batch sent last.")
    gate_passed_at = models.DateTimeField(null=True, blank=True, help_text="When the current batch passed its gate.")
    next_tick_at = models.DateTimeField(null=True, blank=True)
    # How the rollout itself ended (set once, when it ends): a rollback afterwards changes `status`
    # to rolling_back / rolled_back but not this, so a failure or a success is still counted as such.
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    # The check of the version against the targets (deployments_app.target_check): at creation, and
    # again by the validating task before anything is sent. `validation` holds the latest result
    # (per-gateway missing components, gateways that never reported, the deep check); `forced`: an
    # admin overrode a refusal (audited).
    forced = models.BooleanField(default=False, help_text="An admin deployed despite the target check's refusal.")
    validation = models.JSONField(default=dict, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(batch_size__isnull=False, batch_percent__isnull=False),
                name="%(app_label)s_%(class)s_one_batch_rule",
                violation_error_message="Give a batch size or a batch percent, not both.",
            ),
            models.CheckConstraint(
                condition=~models.Q(canary_count__isnull=False, canary_percent__isnull=False),
                name="%(app_label)s_%(class)s_one_canary_rule",
                violation_error_message="Give a canary count or a canary percent, not both.",
            ),
        ]

    def __str__(self):
        return f"{self.template_version} → {self.get_status_display()}"

    def is_finished(self):
        return self.status in FINISHED_STATUSES

    @property
    def rolled_back_after(self):
        """How the rollout had ended when it was rolled back ("succeeded", "failed", "cancelled"), else "".

        The pages show it beside the status, so a rollback does not hide a success or a failure.
        """
        rolled_back = self.status in (DeploymentStatus.ROLLING_BACK, DeploymentStatus.ROLLED_BACK)
        if not rolled_back or self.outcome in ("", Outcome.ROLLED_BACK):
            return ""
        return self.get_outcome_display().lower()

    def batch_state(self, number):
        """'not_started', 'in_progress' (sent, gate not passed yet), 'passed' or 'stopped'.

        'stopped': sent, but the deployment ended (failed, cancelled, rolled back) before its gate
        passed; it is no longer in progress. A batch never sent stays 'not_started'.
        """
        if self.current_batch is None or number > self.current_batch:
            return "not_started"
        if number < self.current_batch or self.gate_passed_at is not None:
            return "passed"
        if self.outcome or self.status in FINISHED_STATUSES:
            return "stopped"
        return "in_progress"

    def batch_label(self, number):
        """A batch's name as the pages show it: "Canary" then "Batch 1", "Batch 2"…, or "Batch 1" first.

        `number` is the stored one (0 is the canary or the first batch); timeline messages use this too.
        """
        if self.strategy == Strategy.CANARY:
            return "Canary" if number == 0 else f"Batch {number}"
        return f"Batch {number + 1}"

    def batch_progress(self):
        """Per batch, in order: its state, target count, targets per status and those waiting offline."""
        counts = {status: models.Count("pk", filter=models.Q(status=status)) for status in TargetStatus.values}
        rollback = {
            name: models.Count("pk", filter=models.Q(rollback=state))
            for name, state in (("rolled_back", RollbackState.RESTORED), ("returning", RollbackState.RETURNING))
        }
        rows = (
            self.targets.order_by("batch")
            .values("batch")
            .annotate(total=models.Count("pk"), waiting_offline=models.Count("pk", filter=waiting_offline_filter()))
            .annotate(**counts, **rollback)
        )
        return [
            {**row, "state": self.batch_state(row["batch"]), "label": self.batch_label(row["batch"])} for row in rows
        ]


class DeploymentTarget(models.Model):
    """One gateway's part in a deployment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="targets")
    gateway = models.ForeignKey("gateways_app.Gateway", on_delete=models.CASCADE, related_name="deployment_targets")
    status = models.CharField(max_length=12, choices=TargetStatus.choices, default=TargetStatus.PENDING)
    batch = models.PositiveIntegerField(default=0, help_text="0 is the canary or first batch.")
    error = models.TextField(blank=True)
    # What the gateway was meant to run before this deployment, for rollback.
    previous_config = models.TextField(blank=True)
    previous_config_hash = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # What a rollback did to it (deployments_app.rollback); `status` keeps how the rollout went.
    rollback = models.CharField(max_length=12, choices=RollbackState.choices, blank=True)
    rollback_error = models.TextField(blank=True)
    rollback_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When its gateway was sent its previous config (connected)."
    )

    objects = child_queryset("deployment__organization").as_manager()

    class Meta:
        ordering = ["batch", "gateway__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "gateway"],
                name="%(app_label)s_%(class)s_unique_gateway",
                violation_error_message="This gateway is already a target of the deployment.",
            )
        ]

    def __str__(self):
        return f"{self.gateway} in {self.deployment_id}: {self.status}"

    @property
    def organization(self):
        return self.deployment.organization

    @property
    def rollback_badge(self):
        """The badge class (static/flowgate/pages.css) of its rollback state."""
        return ROLLBACK_BADGES.get(self.rollback, "unset")


ROLLBACK_BADGES = {
    RollbackState.RETURNING: "pending",
    RollbackState.RESTORED: "applied",
    RollbackState.FAILED: "failed",
}


class EventKind(models.TextChoices):
    VALIDATED = "validated", "Validated"
    REFUSED = "refused", "Refused"
    STARTED = "started", "Started"
    BATCH_STARTED = "batch_started", "Batch started"
    DELIVERED = "delivered", "Delivered after reconnecting"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    GATE_PASSED = "gate_passed", "Gate passed"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    CANCELLED = "cancelled", "Cancelled"
    STOPPED = "stopped", "Stopped"
    ROLLED_BACK = "rolled_back", "Rolled back"
    SUCCEEDED = "succeeded", "Succeeded"
    ROLLBACK_STARTED = "rollback_started", "Rollback started"
    RESTORED = "restored", "Previous config applied"
    ROLLBACK_FAILED = "rollback_failed", "Rollback failed"


class DeploymentEvent(models.Model):
    """One entry of a deployment's timeline: what happened, when, and to how many targets.

    Written by the rollout engine and the operator actions (each also goes to the audit log);
    never changed afterwards. `data` holds the details (batch number, gateway names, errors).
    """

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    message = models.CharField(max_length=500)
    count = models.PositiveIntegerField(default=0, help_text="How many targets it concerns.")
    data = models.JSONField(default=dict, blank=True)

    objects = child_queryset("deployment__organization").as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message}"

    @property
    def organization(self):
        return self.deployment.organization
