"""Celery tasks of the rollout engine: they take ids, call rollout or reconciliation and keep no state.

They are idempotent and acknowledged late (a task that dies with its worker runs again): the
engine derives everything from the database, under a row lock. The tasks enqueue, the engine
computes: this module imports the engine, and the engine asks for ticks through
deployments_app.signals.tick_requested, whose receiver (deployments_app.apps) queues advance_rollout.
"""

import logging

from celery import shared_task
from django.conf import settings

from deployments_app import reconciliation, rollout
from deployments_app.models import Deployment

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def advance_rollout(deployment_id):
    """One tick of a deployment; while it is rolling out, the next tick follows in a few seconds."""
    try:
        run = rollout.advance(deployment_id)
    except Deployment.DoesNotExist:
        return None  # deleted (its organization was): nothing left to do
    if run.deployment.status not in rollout.TICKING:
        return run.deployment.status
    # Run in-process (eager mode, no broker): a "later" tick would run at once, recursively; reconcile ticks instead.
    if not advance_rollout.request.is_eager and reconciliation.claim_next_tick(deployment_id):
        advance_rollout.apply_async((str(deployment_id),), countdown=settings.FLOWGATE_ROLLOUT_TICK_SECONDS)
    return run.deployment.status


@shared_task
def tick_rollouts():
    """One tick of every rolling-out deployment, as each one's chain of advance_rollout does; how many.

    Only scheduled without a broker (CELERY_BEAT_SCHEDULE's tick-rollouts entry, run by the
    server's embedded beat): there is no worker to run the chains then.
    """
    rolling_out = Deployment.objects.filter(status__in=rollout.TICKING).values_list("pk", flat=True)
    ids = [str(pk) for pk in rolling_out]
    for deployment_id in ids:
        try:
            advance_rollout.apply((deployment_id,))
        except Exception:  # one deployment that cannot be ticked must not stop the others
            logger.exception("could not tick deployment %s; the others go on", deployment_id)
    return len(ids)


@shared_task(acks_late=True)
def reconcile_deployments():
    """Periodic (CELERY_BEAT_SCHEDULE): tick active deployments, restart lost ticks, re-send drifted configs."""
    return reconciliation.reconcile()
