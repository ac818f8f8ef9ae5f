"""Operator actions on deployments: pause, resume, cancel, roll back now, roll back to a version.

Each one locks the deployment row, checks that its status allows the action (else
TransitionRefused, which the API answers with 409), changes it and writes a timeline event
and an audit entry (runs.Run.event). The API, the admin and the pages call these.
"""

from django.db import transaction
from django.utils import timezone

from core_app import audit
from deployments_app import rollback, rollout, runs, services
from deployments_app.models import DeploymentStatus, EventKind, TargetStatus
from gateways_app.models import Gateway

CANCELLABLE = {
    DeploymentStatus.PENDING,
    DeploymentStatus.VALIDATING,
    DeploymentStatus.ROLLING_OUT,
    DeploymentStatus.PAUSED,
}
NOT_STARTED = {DeploymentStatus.PENDING, DeploymentStatus.VALIDATING}
ROLLBACK_IMPOSSIBLE = {DeploymentStatus.REFUSED}  # ended before anything was sent


class TransitionRefused(Exception):
    """The deployment's status does not allow this action; the message says why."""


def _status(deployment):
    return deployment.get_status_display().lower()


def _by(user):
    return f" by {user.get_username()}" if user is not None and user.is_authenticated else ""


def pause(deployment_id, *, user=None, request=None, now=None):
    """Stop sending new batches (and ticking) until resumed. Only a rolling-out deployment pauses."""
    now = now or timezone.now()
    with transaction.atomic():
        run = runs.Run(runs.lock(deployment_id), now, user=user, request=request)
        deployment = run.deployment
        if deployment.status != DeploymentStatus.ROLLING_OUT:
            raise TransitionRefused(f"Only a rolling-out deployment can be paused; this one is {_status(deployment)}.")
        deployment.status, deployment.next_tick_at = DeploymentStatus.PAUSED, None
        run.event(EventKind.PAUSED, f"Paused{_by(user)}.")
        run.save()
    return deployment


def resume(deployment_id, *, user=None, request=None, now=None):
    """Go on rolling out a paused deployment; its next tick runs after the commit."""
    now = now or timezone.now()
    with transaction.atomic():
        run = runs.Run(runs.lock(deployment_id), now, user=user, request=request)
        deployment = run.deployment
        if deployment.status != DeploymentStatus.PAUSED:
            raise TransitionRefused(f"Only a paused deployment can be resumed; this one is {_status(deployment)}.")
        deployment.status = DeploymentStatus.ROLLING_OUT
        run.event(EventKind.RESUMED, f"Resumed{_by(user)}.")
        run.save()
        runs.queue_tick(deployment.pk)
    return deployment


def cancel(deployment_id, *, user=None, request=None, now=None):
    """Send nothing more. Delivered configs stay; targets still waiting offline get their previous config back.

    What the gateways reported up to now is recorded first, so a target that applied a moment
    ago counts as applied, not as waiting.
    """
    now = now or timezone.now()
    with transaction.atomic():
        run = runs.Run(runs.lock(deployment_id), now, user=user, request=request)
        deployment = run.deployment
        if deployment.status == DeploymentStatus.ROLLING_BACK:
            raise TransitionRefused("This deployment is rolling back: nothing to cancel.")
        if deployment.status not in CANCELLABLE:
            raise TransitionRefused(f"This deployment has already finished ({_status(deployment)}): nothing to cancel.")
        if deployment.status in (DeploymentStatus.ROLLING_OUT, DeploymentStatus.PAUSED):
            rollout.observe(run)
        unsent = [target for target in run.targets if target.status == TargetStatus.PENDING]
        waiting = [target for target in unsent if runs.was_assigned(run, target)]
        error = "Not sent: cancelled while its gateway was offline."
        rollback.withdraw(run, waiting, error)
        for target in unsent:
            target.error = target.error or "Not sent: the deployment was cancelled."
            run.changed(target)
        message = f"Cancelled{_by(user)}: {len(unsent)} target(s) were never sent"
        message += f" ({len(waiting)} waiting offline got their previous config back)." if waiting else "."
        runs.finish(run, DeploymentStatus.CANCELLED, EventKind.CANCELLED, message, count=len(unsent))
        run.save()
    return deployment


def roll_back(deployment_id, *, user=None, request=None, now=None):
    """Roll back now: the targets this deployment changed that had a previous config get it back.

    The deployment is then rolling back until their gateways report that config applied
    (deployments_app.rollback). Refused, changing nothing, when no target has a previous config
    to return to: the message names the gateways that keep this version.
    """
    now = now or timezone.now()
    with transaction.atomic():
        run = runs.Run(runs.lock(deployment_id), now, user=user, request=request)
        deployment = run.deployment
        if deployment.status in NOT_STARTED:
            raise TransitionRefused("Nothing has been sent yet: cancel this deployment instead.")
        if deployment.status in (DeploymentStatus.ROLLING_BACK, DeploymentStatus.ROLLED_BACK):
            raise TransitionRefused("This deployment has already been rolled back.")
        if deployment.status in ROLLBACK_IMPOSSIBLE:
            raise TransitionRefused(f"This deployment was {_status(deployment)}: nothing was sent to roll back.")
        if deployment.status in (DeploymentStatus.ROLLING_OUT, DeploymentStatus.PAUSED):
            rollout.observe(run)
        try:
            rollback.start(run, f"Rolled back{_by(user)}")
        except rollback.NothingToRollBack as exc:
            # Raised inside the atomic block: nothing is changed, not even what observe() took in.
            raise TransitionRefused(str(exc)) from None
        run.save()
    return deployment


def roll_back_to_version(version, *, user, request=None, now=None, **params):
    """A new deployment of `version` (a TemplateVersion) to the gateways running another version of its template.

    The targets are the organization's gateways whose desired config is currently one of the
    template's other versions (same content as `version` counts as already there). `params` are
    deployment settings, as for services.create_deployment (missing ones: the org's defaults).
    TransitionRefused when no gateway runs another version.
    """
    template = version.template
    org = template.organization
    others = template.versions.exclude(sha256=version.sha256).values("sha256")
    gateways = list(Gateway.objects.for_org(org).filter(desired_config_hash__in=others).order_by("name"))
    if not gateways:
        raise TransitionRefused(f"No gateway runs another version of {template.name}: there is nothing to roll back.")
    with transaction.atomic():
        deployment = services.create_deployment(
            org, template_version=version, selector_gateways=gateways, user=user, request=request, now=now, **params
        )
        changes = {"to_version": version.number, "deployment": str(deployment.pk), "target_count": len(gateways)}
        audit.record(org, "template.rolled_back", template, user=user, request=request, changes=changes)
    return deployment
