"""What the dashboard shows: fleet counts, config drift, rollouts in progress, failures, history.

Every function reads one organization's rows through the models' own scoping (`for_org`) and
costs a fixed number of queries, whatever the size of the fleet.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from core_app.models import Organization
from dashboard_app.models import FleetSnapshot
from deployments_app.models import (
    FINISHED_STATUSES,
    Deployment,
    DeploymentStatus,
    DeploymentTarget,
    Outcome,
    TargetStatus,
)
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.querysets import DRIFTED, SHOWN_STATUS, report_fields

ACTIVE_STATUSES = [status for status in DeploymentStatus.values if status not in FINISHED_STATUSES]


def fleet_counts(org):
    """{"total", "online", "degraded", "offline", "healthy", "unhealthy", "drifted"}: one query."""
    # By shown status: a gateway whose own metrics show a problem counts as degraded (querysets.SHOWN_STATUS).
    counts = {status: Count("pk", filter=SHOWN_STATUS[status]) for status in GatewayStatus.values}
    return Gateway.objects.for_org(org).aggregate(
        total=Count("pk"),
        healthy=Count("pk", filter=Q(health__healthy=True)),
        unhealthy=Count("pk", filter=Q(health__healthy=False)),
        drifted=Count("pk", filter=DRIFTED),
        **counts,
    )


def degraded_gateways(org, limit=8):
    """The first `limit` degraded gateways (OpAMP health or their own metrics): those degraded by metrics first,
    the longest degraded first, then by name. One query; each row's degraded_reasons() reads only its own columns
    (health_errors, metrics_errors)."""
    rows = Gateway.objects.for_org(org).with_shown_status(GatewayStatus.DEGRADED).without_reports()
    return list(rows.order_by(F("metrics_degraded_since").asc(nulls_last=True), "name")[:limit])


def drifted_gateways(org, limit=8):
    """The first `limit` gateways whose reported config differs from the desired one."""
    return list(Gateway.objects.for_org(org).drifted().without_reports().order_by("name")[:limit])


def active_deployments(org, limit=10):
    """Unfinished deployments, newest first, annotated with their progress (one query)."""
    rows = (
        Deployment.objects.for_org(org)
        .filter(status__in=ACTIVE_STATUSES)
        .with_progress()
        .select_related("template_version__template")
        .order_by("-created_at", "-pk")
    )
    return list(rows[:limit])


def recent_failures(org, limit=8):
    """The latest failed deployment targets with their error text and gateway (one query).

    A target that failed stays failed when its deployment is rolled back afterwards (the rollback
    has its own state, DeploymentTarget.rollback): a failure is listed whatever happened next.
    """
    rows = (
        DeploymentTarget.objects.for_org(org)
        .filter(status=TargetStatus.FAILED)
        .select_related("gateway", "deployment__template_version__template")
        .defer(*report_fields(through="gateway"), "previous_config")
        .order_by(F("applied_at").desc(nulls_last=True), F("sent_at").desc(nulls_last=True), "-pk")
    )
    return list(rows[:limit])


OUTCOME_ORDER = [Outcome.SUCCEEDED, Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.CANCELLED]
ROLLED_BACK_AFTER = Q(status__in=[DeploymentStatus.ROLLING_BACK, DeploymentStatus.ROLLED_BACK]) & ~Q(
    outcome=Outcome.ROLLED_BACK
)


def deployment_outcomes(org, days=30, now=None):
    """[(outcome, label, count, rolled_back_after, failed_targets)] of rollouts ended in the last `days` days.

    Counted by how each rollout ended (Deployment.outcome), one query: a deployment that succeeded
    or failed and was rolled back afterwards still counts as succeeded or failed, and
    `rolled_back_after` says how many of them were rolled back; "Rolled back" counts rollouts an
    operator stopped by rolling back. `failed_targets`: their targets that failed. Deployments
    rolling back right now (not finished again yet) are counted too.
    """
    now = now or timezone.now()
    recent = Q(finished_at__gte=now - timedelta(days=days)) | Q(status=DeploymentStatus.ROLLING_BACK)
    rows = (
        Deployment.objects.for_org(org)
        .exclude(outcome="")
        .filter(recent)
        .values("outcome")
        .annotate(
            count=Count("pk", distinct=True),
            rolled_back_after=Count("pk", filter=ROLLED_BACK_AFTER, distinct=True),
            failed_targets=Count("targets", filter=Q(targets__status=TargetStatus.FAILED)),
        )
        .order_by()
    )
    found = {row["outcome"]: row for row in rows}
    empty = {"count": 0, "rolled_back_after": 0, "failed_targets": 0}
    return [
        (outcome.value, outcome.label, *(found.get(outcome.value, empty)[key] for key in empty))
        for outcome in OUTCOME_ORDER
    ]


def connected_history(org, hours=24, now=None, counts=None):
    """[(time, connected, total)] over the last `hours`, from FleetSnapshot rows plus a point for now.

    `counts` (a fleet_counts() result) saves a query when the caller has it already.
    """
    now = now or timezone.now()
    snapshots = FleetSnapshot.objects.for_org(org).filter(taken_at__gte=now - timedelta(hours=hours))
    points = [
        (row.taken_at, row.online + row.degraded, row.online + row.degraded + row.offline)
        for row in snapshots.order_by("taken_at").only("taken_at", "online", "degraded", "offline")
    ]
    counts = counts or fleet_counts(org)
    points.append((now, counts["online"] + counts["degraded"], counts["total"]))
    return points


def record_fleet_snapshots(now=None):
    """Write one FleetSnapshot per organization (its gateways per status now); drop those past retention.

    Two queries to count, one insert and one delete, whatever the number of organizations.
    Returns the number of snapshots written.
    """
    now = now or timezone.now()
    per_status = {status: Count("pk", filter=SHOWN_STATUS[status]) for status in GatewayStatus.values}
    grouped = Gateway.objects.values("organization_id").annotate(**per_status).order_by()
    found = {row.pop("organization_id"): row for row in grouped}
    empty = dict.fromkeys(GatewayStatus.values, 0)
    snapshots = [
        FleetSnapshot(organization_id=org_id, taken_at=now, **found.get(org_id, empty))
        for org_id in Organization.objects.values_list("pk", flat=True)
    ]
    keep_from = now - timedelta(days=settings.FLOWGATE_FLEET_SNAPSHOT_DAYS)
    with transaction.atomic():
        FleetSnapshot.objects.bulk_create(snapshots)
        FleetSnapshot.objects.filter(taken_at__lt=keep_from).delete()
    return len(snapshots)
