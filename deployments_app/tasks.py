"""Celery tasks of the rollout engine: they take ids, call rollout or reconciliation and keep no state.

Both are idempotent and acknowledged late (a task that dies with its worker runs again): the
engine derives everything from the database, under a row lock.
"""

from celery import shared_task
from django.conf import settings

from deployments_app import reconciliation, rollout
from deployments_app.models import Deployment, DeploymentStatus


@shared_task(acks_late=True)
def advance_rollout(deployment_id):
    """One tick of a deployment; while it is rolling out, the next tick follows in a few seconds."""
    try:
        run = rollout.advance(deployment_id)
    except Deployment.DoesNotExist:
        return None  # deleted (its organization was): nothing left to do
    if run.deployment.status != DeploymentStatus.ROLLING_OUT:
        return run.deployment.status
    # Run in-process (eager mode, no broker): a "later" tick would run at once, recursively; reconcile ticks instead.
    if not advance_rollout.request.is_eager and reconciliation.claim_next_tick(deployment_id):
        advance_rollout.apply_async((str(deployment_id),), countdown=settings.FLOWGATE_ROLLOUT_TICK_SECONDS)
    return run.deployment.status


@shared_task(acks_late=True)
def reconcile_deployments():
    """Periodic (CELERY_BEAT_SCHEDULE): tick active deployments, restart lost ticks, re-send drifted configs."""
    return reconciliation.reconcile()
