"""One pass of the rollout engine over a locked deployment, and what the engine's modules share.

deployments_app.rollout (batches, gates) and deployments_app.rollback (returning targets to
their previous config) both work on a `Run`; they import this module and not each other's
helpers, so the engine's modules form no cycle (tests/core/test_layers.py).
"""

from django.db import transaction

from core_app import audit
from deployments_app.models import (
    Deployment,
    DeploymentEvent,
    DeploymentStatus,
    DeploymentTarget,
    Outcome,
    TargetStatus,
)
from deployments_app.signals import tick_requested
from gateways_app.models import GatewayStatus

SETTLED = {TargetStatus.APPLIED, TargetStatus.FAILED}
TICKING = {DeploymentStatus.ROLLING_OUT, DeploymentStatus.ROLLING_BACK}  # what ticks advance
DELIVERED = {TargetStatus.SENT, TargetStatus.APPLIED, TargetStatus.FAILED}
UNHEALTHY = {GatewayStatus.DEGRADED, GatewayStatus.OFFLINE}
ENGINE_FIELDS = ["status", "outcome", "started_at", "finished_at", "current_batch", "gate_passed_at", "next_tick_at"]
TARGET_FIELDS = [
    *["status", "error", "previous_config", "previous_config_hash", "sent_at", "applied_at"],
    *["rollback", "rollback_error", "rollback_sent_at"],
]
NAMES_IN_EVENT = 50  # gateway names listed in an event's data


class Run:
    """One pass over a locked deployment: its targets (with their gateways), the time, what changed.

    Engine functions change `deployment` and `targets` in memory and call `changed()`; `save()`
    writes only what differs. Events are written at once (DeploymentEvent + audit entry).
    """

    def __init__(self, deployment, now, *, user=None, request=None):
        self.deployment = deployment
        self.version = deployment.template_version
        self.now = now
        self.user = user
        self.request = request
        self.targets = list(deployment.targets.select_related("gateway").order_by("batch", "gateway__name"))
        self.events = []
        self._dirty = {}
        self._before = [getattr(deployment, name) for name in ENGINE_FIELDS]

    @property
    def last_batch(self):
        return max(target.batch for target in self.targets)

    def batch(self, number):
        return [target for target in self.targets if target.batch == number]

    def started(self):
        """Targets of the batches sent so far."""
        current = self.deployment.current_batch
        return [] if current is None else [target for target in self.targets if target.batch <= current]

    def changed(self, target):
        self._dirty[target.pk] = target

    def event(self, kind, message, count=0, **data):
        """Add an entry to the timeline and the same to the audit log."""
        deployment = self.deployment
        event = DeploymentEvent.objects.create(
            deployment=deployment, created_at=self.now, kind=kind, message=message, count=count, data=data
        )
        changes = {"message": message, "count": count, **data}
        org = deployment.organization
        audit.record(org, f"deployment.{kind}", deployment, user=self.user, request=self.request, changes=changes)
        self.events.append(event)
        return event

    def save(self):
        if [getattr(self.deployment, name) for name in ENGINE_FIELDS] != self._before:
            self.deployment.save(update_fields=[*ENGINE_FIELDS, "updated_at"])
        if self._dirty:
            DeploymentTarget.objects.bulk_update(list(self._dirty.values()), TARGET_FIELDS)


def lock(deployment_id):
    """The deployment, its row locked until the transaction ends (its template version loaded)."""
    deployments = Deployment.objects.select_for_update(of=("self",))
    return deployments.select_related("organization", "template_version__template").get(pk=deployment_id)


def names(targets):
    return [target.gateway.name for target in targets[:NAMES_IN_EVENT]]


def queue_tick(deployment_id):
    """Run a tick of the deployment once the current transaction commits (tasks.advance_rollout)."""
    transaction.on_commit(lambda: request_tick(deployment_id))


def request_tick(deployment_id):
    """Ask for a tick of the deployment now: deployments_app.tasks queues it (see deployments_app.signals)."""
    tick_requested.send(sender=Deployment, deployment_id=str(deployment_id))


def finish(run, status, kind, message, count=0):
    """End the rollout with `status`, which is also its outcome (kept if it is rolled back later)."""
    deployment = run.deployment
    deployment.status, deployment.finished_at, deployment.next_tick_at = status, run.now, None
    deployment.outcome = Outcome(status)
    run.event(kind, message, count=count, status=status)


def was_assigned(run, target):
    """This deployment gave the target's gateway its config (delivered or waiting for it)."""
    if target.status in DELIVERED:
        return True
    current = run.deployment.current_batch
    return target.status == TargetStatus.PENDING and current is not None and target.batch <= current
