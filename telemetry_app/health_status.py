"""Health from metrics, written where pages read it: the gateway's metrics_problem, metrics_degraded_since and
its dated metrics_errors (the sibling of the OpAMP health_errors, same entry shape, source "metrics").

Two writers: the ingest (rollups.ingest(), when health.evaluate() says a problem opened, moved or resolved:
one read and one UPDATE of the gateway, inside the request's transaction) and the stale check
(check_stale(), a beat task) for gateways whose collector stopped reporting: no report for
FLOWGATE_TELEMETRY_STALE_SECONDS opens "no metrics received since …", the next report resolves it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gateways_app.models import Gateway, GatewayStatus
from opamp_core import health_errors
from opamp_core.offers import REPORTS_OWN_METRICS
from telemetry_app import health
from telemetry_app.models import SeriesState

SOURCE = "metrics"
STALE_BATCH = 500  # gateways marked stale per run at most (the next run takes the rest)


def write(gateway_id, state: dict) -> None:
    """Show the state's problems on the gateway (open ones as its metrics_problem, all in metrics_errors)."""
    found = health.problems(state)
    history = Gateway.objects.filter(pk=gateway_id).values_list("metrics_errors", flat=True).first()
    if history is None:  # the gateway was deleted meanwhile
        return
    current = [problem for problem in found if problem["open"]]
    Gateway.objects.filter(pk=gateway_id).update(
        metrics_errors=updated_history(history, found),
        metrics_problem="; ".join(problem["message"] for problem in sorted(current, key=lambda p: p["since"])),
        metrics_degraded_since=health_errors.parse(min((p["since"] for p in current), default=None)),
    )
    health.clear_resolved(state)


def updated_history(history: list, found: list) -> list:
    """The dated list after these problems: an entry per problem (keyed by its rule), its message kept current
    while open, resolved_at set when it resolves; healthy_since once none is open."""
    entries = [dict(entry) for entry in history]
    resolved_now = []
    for problem in found:
        entry = next((e for e in entries if e.get("key") == problem["key"] and e["resolved_at"] is None), None)
        if entry is None:
            entry = {
                "source": SOURCE,
                "key": problem["key"],
                "component": problem["component"],
                "at": problem["since"],
                "resolved_at": None,
                "healthy_since": None,
            }
            entries.insert(0, entry)
        entry["message"] = problem["message"]
        if not problem["open"]:
            entry["resolved_at"] = problem["resolved"]
            resolved_now.append(entry)
    if not any(entry["resolved_at"] is None for entry in entries):
        healthy_since = max((entry["resolved_at"] for entry in resolved_now), default=None)
        for entry in resolved_now:
            entry["healthy_since"] = healthy_since
    entries.sort(key=lambda entry: (entry["resolved_at"] is None, entry["at"]), reverse=True)
    return entries[: health_errors.MAX_ENTRIES]


def check_stale(now=None) -> int:
    """Open "no metrics received" on connected gateways announcing ReportsOwnMetrics that reported before and not
    for FLOWGATE_TELEMETRY_STALE_SECONDS;
    the number marked. One query finds them; each is then locked and written (only on that transition)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.FLOWGATE_TELEMETRY_STALE_SECONDS)
    # Only gateways that are connected and still announce ReportsOwnMetrics are expected to report:
    # an offline gateway is shown offline, and one whose metrics were turned off on purpose (the
    # agent no longer announces the capability, so it gets no own_metrics offer) is not failing.
    candidates = list(
        SeriesState.objects.filter(updated_at__lt=cutoff)
        .exclude(health__has_key="stale")
        .exclude(gateway__status=GatewayStatus.OFFLINE)
        .annotate(own_metrics=F("gateway__capabilities").bitand(REPORTS_OWN_METRICS))
        .exclude(own_metrics=0)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:STALE_BATCH]
    )
    marked = 0
    for pk in candidates:
        with transaction.atomic():
            row = SeriesState.objects.select_for_update().filter(pk=pk, updated_at__lt=cutoff).first()
            if row is None or "stale" in row.health:  # it reported meanwhile
                continue
            health.mark_stale(row.health, row.updated_at)
            write(row.gateway_id, row.health)
            # .update(): the row's updated_at is the last report's time and must stay so.
            SeriesState.objects.filter(pk=pk).update(health=row.health)
            marked += 1
    return marked
