"""The rollout engine's bookkeeping of ticks and its periodic safety net (Celery beat).

- `claim_next_tick()`: one chain of self-queueing ticks per rolling-out deployment.
- `reconcile()`: ticks every rolling-out deployment, restarts the chains that were lost and
  pushes again the desired config of connected gateways that report another hash.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from deployments_app import rollout, runs
from deployments_app.models import Deployment
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import redeliver_desired_config

logger = logging.getLogger(__name__)


def claim_next_tick(deployment_id, *, now=None):
    """Book the next tick of an active deployment's chain; False when another chain has booked it.

    A tick re-queues itself only if the booked time has come (it is that booked tick, or the chain
    was lost): two chains started by accident thus collapse into one.
    """
    now = now or timezone.now()
    seconds = settings.FLOWGATE_ROLLOUT_TICK_SECONDS
    due = Q(next_tick_at__isnull=True) | Q(next_tick_at__lte=now + timedelta(seconds=seconds / 4))
    active = Deployment.objects.filter(pk=deployment_id, status__in=runs.TICKING)
    return bool(active.filter(due).update(next_tick_at=now + timedelta(seconds=seconds)))


def reconcile(*, now=None):
    """The periodic safety net (Celery beat). Returns what it did, as counts (`failed`: deployments that raised).

    Each deployment is reconciled on its own: one that raises is logged and counted, and the
    others (of every organization) are still ticked.

    - ticks every rolling-out or rolling-back deployment (finishing the settled ones) and restarts the tick chain
      of those whose next tick is overdue (a killed worker, a lost message); without a broker
      there are no chains to restart;
    - re-sends the desired config to connected gateways whose reported hash differs (a push lost
      between commit and send). The OpAMP server never sends the same config twice on one
      connection, so this cannot make an agent apply a config twice.
    """
    now = now or timezone.now()
    counts = {"ticked": 0, "restarted": 0, "finished": 0, "failed": 0}
    for deployment_id in Deployment.objects.filter(status__in=runs.TICKING).values_list("pk", flat=True):
        try:
            outcome = reconcile_one(deployment_id, now)
        except Exception:
            # One deployment that cannot be ticked must not stop the others (of every organization).
            logger.exception("could not reconcile deployment %s; the others go on", deployment_id)
            counts["failed"] += 1
            continue
        counts["ticked"] += 1
        if outcome:
            counts[outcome] += 1
    if counts["failed"]:
        logger.error(
            "%d deployment(s) could not be reconciled (errors above); they are tried again next run", counts["failed"]
        )
    return {**counts, "resent": resend_drifted_configs()}


def reconcile_one(deployment_id, now):
    """Tick one rolling-out (or back) deployment, restart its tick chain if lost: "finished", "restarted" or None."""
    run = rollout.advance(deployment_id, now=now)
    if run.deployment.status not in runs.TICKING:
        return "finished"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None  # no broker, no chains: the server's embedded beat ticks (flowgate_site/embedded_beat.py)
    stale = now - timedelta(seconds=max(3 * settings.FLOWGATE_ROLLOUT_TICK_SECONDS, 10))
    if run.deployment.next_tick_at is None or run.deployment.next_tick_at < stale:
        runs.request_tick(deployment_id)
        return "restarted"
    return None


def resend_drifted_configs():
    """Push the desired config again to connected gateways that report another hash; how many.

    Drifted gateways that reported FAILED for their desired config are not counted: the OpAMP
    server never sends a config again to an agent that failed it (it would fail again).
    """
    drifted = Gateway.objects.drifted().exclude(status=GatewayStatus.OFFLINE).accepting_remote_config()
    drifted = drifted.exclude(remote_config_hash=F("desired_config_hash"))
    return redeliver_desired_config(drifted)
