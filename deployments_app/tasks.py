"""Celery tasks of the rollout engine: they take ids, call rollout or reconciliation and keep no state.

They are idempotent and acknowledged late (a task that dies with its worker runs again): the
engine derives everything from the database, under a row lock. The tasks enqueue, the engine
computes: this module imports the engine, and the engine asks for ticks through
deployments_app.signals.tick_requested, whose receiver (deployments_app.apps) queues advance_rollout.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from deployments_app import reconciliation, rollout, runs, target_check
from deployments_app.models import Deployment, DeploymentStatus

logger = logging.getLogger(__name__)
# A validating deployment older than this lost its task (the deep check has its own, shorter, timeout).
VALIDATION_STALE_SECONDS = 60


@shared_task(acks_late=True)
def validate_deployment(deployment_id):
    """Check a validating deployment against its targets (and the deep check); roll out or refuse it."""
    try:
        deployment = target_check.validate(deployment_id)
    except Deployment.DoesNotExist:
        return None
    return deployment.status


@shared_task
def validate_deployments():
    """Validate every deployment still validating; how many.

    Without a broker (CELERY_BEAT_SCHEDULE's validate-deployments entry, run by the server's
    embedded beat) this is how a new deployment gets validated; with one, reconcile_deployments
    calls it for deployments whose queued validation was lost.
    """
    ids = [str(pk) for pk in Deployment.objects.filter(status=DeploymentStatus.VALIDATING).values_list("pk", flat=True)]
    for deployment_id in ids:
        try:
            validate_deployment.apply((deployment_id,))
        except Exception:  # one deployment that cannot be validated must not stop the others
            logger.exception("could not validate deployment %s; the others go on", deployment_id)
    return len(ids)


@shared_task(acks_late=True)
def advance_rollout(deployment_id):
    """One tick of a deployment; while it is rolling out, the next tick follows in a few seconds."""
    try:
        run = rollout.advance(deployment_id)
    except Deployment.DoesNotExist:
        return None  # deleted (its organization was): nothing left to do
    if run.deployment.status not in runs.TICKING:
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
    rolling_out = Deployment.objects.filter(status__in=runs.TICKING).values_list("pk", flat=True)
    ids = [str(pk) for pk in rolling_out]
    for deployment_id in ids:
        try:
            advance_rollout.apply((deployment_id,))
        except Exception:  # one deployment that cannot be ticked must not stop the others
            logger.exception("could not tick deployment %s; the others go on", deployment_id)
    return len(ids)


@shared_task(acks_late=True)
def reconcile_deployments():
    """Periodic (CELERY_BEAT_SCHEDULE): tick active deployments, restart lost ticks, re-send drifted configs,
    and queue again the validation of deployments validating for longer than a validation takes (a lost message)."""
    result = reconciliation.reconcile()
    stale = timezone.now() - timedelta(seconds=VALIDATION_STALE_SECONDS)
    lost = Deployment.objects.filter(status=DeploymentStatus.VALIDATING, created_at__lt=stale)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {**result, "revalidated": 0}  # no broker: the embedded beat's validate-deployments runs them
    ids = [str(pk) for pk in lost.values_list("pk", flat=True)]
    for deployment_id in ids:
        validate_deployment.delay(deployment_id)
    return {**result, "revalidated": len(ids)}
