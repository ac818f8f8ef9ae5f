"""The rollout engine: batches, gates, the failure threshold and rollback, driven from database state.

A deployment (Deployment.status) moves like this (docs/deployments.md has the whole story):

    rolling_out --every batch passed its gate, every target settled--> succeeded
    rolling_out --failures past the threshold, or every canary failed--> failed
    rolling_out --every target (or every canary) deleted with its gateway--> failed
    failed --auto_rollback, some target has a previous config--> rolling_back
    rolling_back --every returning target applied its previous config or failed to--> rolled_back
    (operator actions, deployments_app/actions.py: pause, resume, cancel, roll back now)

and each of its targets (DeploymentTarget.status) like this:

    pending --its batch starts, gateway connected--> sent --APPLIED with the new hash--> applied
    pending (gateway offline at batch start: it waits, counted) --gateway seen connected--> sent
    sent --FAILED with the new hash, or no report within apply_timeout_seconds--> failed
    applied --degraded or offline before its health window ends--> failed

A rollback does not change a target's status (a failed target stays failed): it sets the
target's `rollback` state (deployments_app.rollback says which and why).

A batch passes its gate when none of its targets is still sent and every applied one has been
healthy for health_window_seconds (targets waiting for an offline gateway do not hold the gate;
the canary batch needs at least one applied target). The next batch starts pause_seconds later.

`advance()` (one tick) runs under a row lock of the deployment and only compares what the
gateways reported (Gateway.remote_config_*, Gateway.status) with the targets: a second tick at
the same moment, or a concurrent one, changes nothing. No state lives in task messages or in
memory, so a lost message or a killed worker loses no work: deployments_app.reconciliation
(Celery beat) re-ticks every active deployment, restarts lost tick chains and re-sends drifted configs.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core_app.models import Strategy
from deployments_app import rollback
from deployments_app.models import (
    DeploymentStatus,
    EventKind,
    TargetStatus,
)
from deployments_app.runs import NAMES_IN_EVENT, SETTLED, UNHEALTHY, Run, finish, lock, names, queue_tick
from gateways_app.models import Gateway, GatewayStatus, RemoteConfigStatus
from gateways_app.services import assign_desired_config


def start(deployment, *, now, user=None, request=None):
    """Hand a just-created deployment (status rolling_out) to the engine: its first tick runs after commit."""
    run = Run(deployment, now, user=user, request=request)
    batches = run.last_batch + 1
    run.event(
        EventKind.STARTED,
        f"Started: {len(run.targets)} targets in {batches} batch{'es' if batches > 1 else ''} ({deployment.strategy}).",
        count=len(run.targets),
        batches=batches,
    )
    queue_tick(deployment.pk)


def advance(deployment_id, *, now=None):
    """One tick of the engine (see the module docstring). Returns the Run; a no-op unless rolling out or back."""
    now = now or timezone.now()
    with transaction.atomic():
        run = Run(lock(deployment_id), now)
        if run.deployment.status == DeploymentStatus.ROLLING_BACK:
            rollback.advance(run)
            run.save()
            return run
        if run.deployment.status != DeploymentStatus.ROLLING_OUT:
            return run
        observe(run)
        gone = vanished_reason(run)
        if gone:
            # Nothing it sent is left to roll back: it ends failed, with the reason in its timeline.
            finish(run, DeploymentStatus.FAILED, EventKind.STOPPED, f"Stopped: {gone}")
        elif reason := stop_reason(run):
            stop(run, reason)
        else:
            progress(run)
        run.save()
    return run


def vanished_reason(run):
    """Why the deployment cannot go on because targets it waits for were deleted with their gateways, or None.

    Without this a deployment with no target left would never finish (and crash every tick
    looking for its last batch), and a canary batch with no target left would wait for ever.
    """
    deployment = run.deployment
    if not run.targets:
        return "All targets were deleted (their gateways no longer exist)."
    canary_gate = deployment.strategy == Strategy.CANARY and deployment.current_batch == 0
    if canary_gate and deployment.gate_passed_at is None and not run.batch(0):
        return "Every canary target was deleted (their gateways no longer exist)."
    return None


def observe(run):
    """Derive the state of every target of the sent batches from what its gateway reported."""
    outcomes = {EventKind.DELIVERED: [], EventKind.APPLIED: [], EventKind.FAILED: []}
    for target in run.started():
        kind = observe_target(run, target)
        if kind:
            outcomes[kind].append(target)
            run.changed(target)
    delivered, applied, failed = outcomes.values()
    if delivered:
        message = f"{len(delivered)} waiting target(s) connected and were sent the config."
        run.event(EventKind.DELIVERED, message, count=len(delivered), gateways=names(delivered))
    if applied:
        message = f"{len(applied)} target(s) applied the config."
        run.event(EventKind.APPLIED, message, count=len(applied), gateways=names(applied))
    if failed:
        errors = {target.gateway.name: target.error for target in failed[:NAMES_IN_EVENT]}
        run.event(EventKind.FAILED, f"{len(failed)} target(s) failed.", count=len(failed), errors=errors)


def observe_target(run, target):
    """Update one target from its gateway's state; the event kind it causes, or None."""
    gateway = target.gateway
    if target.status == TargetStatus.APPLIED:
        return check_health(run, target)
    if target.status not in (TargetStatus.PENDING, TargetStatus.SENT):
        return None
    reported = gateway.remote_config_hash == run.version.sha256
    if reported and gateway.remote_config_status == RemoteConfigStatus.APPLIED:
        target.status, target.applied_at = TargetStatus.APPLIED, run.now
        target.sent_at = target.sent_at or run.now
        return EventKind.APPLIED
    if reported and gateway.remote_config_status == RemoteConfigStatus.FAILED:
        return fail(target, gateway.remote_config_error or "The gateway could not apply the config.")
    if gateway.desired_config_hash != run.version.sha256:
        return fail(target, "Its desired config was replaced (by another deployment) before it applied this one.")
    if target.status == TargetStatus.PENDING:
        if gateway.status == GatewayStatus.OFFLINE:
            return None  # waits; the OpAMP server sends the desired config when it reconnects
        target.status, target.sent_at = TargetStatus.SENT, run.now
        return EventKind.DELIVERED
    timeout = run.deployment.apply_timeout_seconds
    if run.now - target.sent_at > timedelta(seconds=timeout):
        return fail(target, f"No report within {timeout} s.")
    return None


def check_health(run, target):
    """An applied target whose gateway turns degraded or offline within its health window fails."""
    window = run.deployment.health_window_seconds
    in_window = run.now < target.applied_at + timedelta(seconds=window)
    if not in_window or target.gateway.status not in UNHEALTHY:
        return None
    after = int((run.now - target.applied_at).total_seconds())
    return fail(target, f"The gateway was {target.gateway.status} {after} s after applying (health window {window} s).")


def fail(target, error):
    target.status, target.error = TargetStatus.FAILED, error
    return EventKind.FAILED


def stop_reason(run):
    """Why the deployment must stop now (failures past the threshold, a failed canary), or None."""
    deployment = run.deployment
    failed = sum(target.status == TargetStatus.FAILED for target in run.targets)
    total = len(run.targets)
    if failed == 0:
        return None
    count, percent = deployment.failure_threshold_count, deployment.failure_threshold_percent
    if count is not None and failed > count:
        return f"{failed} failed target(s) exceed the threshold of {count}."
    if percent is not None and failed * 100 > percent * total:
        return f"{failed} failed target(s) of {total} exceed the threshold of {percent}%."
    if canary_failed(run):
        return "Every canary target that received the config failed."
    return None


def canary_failed(run):
    """The canary batch is over and not one of its targets applied the config."""
    if run.deployment.strategy != Strategy.CANARY or run.deployment.current_batch != 0:
        return False
    canaries = run.batch(0)
    if any(target.status in (TargetStatus.SENT, TargetStatus.APPLIED) for target in canaries):
        return False
    return any(target.status == TargetStatus.FAILED for target in canaries)


def progress(run):
    """Start the first batch, pass the current batch's gate, start the next one, or finish."""
    deployment = run.deployment
    if deployment.current_batch is None:
        start_batch(run, 0)
        return
    number = deployment.current_batch
    if deployment.gate_passed_at is None:
        if not gate_open(run):
            return
        deployment.gate_passed_at = run.now
        batch = run.batch(number)
        waiting = sum(target.status == TargetStatus.PENDING for target in batch)
        message = f"{deployment.batch_label(number)} passed its gate"
        message += f" ({waiting} target(s) still wait offline)." if waiting else "."
        run.event(EventKind.GATE_PASSED, message, count=len(batch), batch=number, waiting_offline=waiting)
    if number < run.last_batch:
        if run.now >= deployment.gate_passed_at + timedelta(seconds=deployment.pause_seconds):
            start_batch(run, number + 1)
        return
    if all(target.status in SETTLED for target in run.targets):
        failed = sum(target.status == TargetStatus.FAILED for target in run.targets)
        applied = len(run.targets) - failed
        message = f"Succeeded: {applied} target(s) applied" + (f", {failed} failed." if failed else ".")
        finish(run, DeploymentStatus.SUCCEEDED, EventKind.SUCCEEDED, message, count=applied)


def gate_open(run):
    """Whether the current batch passed its gate (see the module docstring)."""
    deployment = run.deployment
    window = timedelta(seconds=deployment.health_window_seconds)
    batch = run.batch(deployment.current_batch)
    for target in batch:
        if target.status == TargetStatus.SENT:
            return False
        if target.status == TargetStatus.APPLIED and run.now < target.applied_at + window:
            return False
    if deployment.strategy == Strategy.CANARY and deployment.current_batch == 0:
        # A canary nobody ran proves nothing: all canaries offline means waiting for them.
        return any(target.status == TargetStatus.APPLIED for target in batch)
    return True


def start_batch(run, number):
    """Give the batch's gateways the new desired config; connected ones are sent, offline ones wait."""
    batch = run.batch(number)
    locked = Gateway.objects.select_for_update().filter(pk__in=[target.gateway_id for target in batch])
    gateways = {gateway.pk: gateway for gateway in locked.order_by("name")}
    for target in batch:
        gateway = target.gateway = gateways[target.gateway_id]
        if gateway.desired_config_hash != run.version.sha256:
            # What it runs now is what a rollback gives back (it may have changed since creation).
            target.previous_config, target.previous_config_hash = gateway.desired_config, gateway.desired_config_hash
        if gateway.status != GatewayStatus.OFFLINE:
            target.status, target.sent_at = TargetStatus.SENT, run.now
        run.changed(target)
    assign_desired_config(Gateway.objects.filter(pk__any=list(gateways)), run.version, now=run.now)
    for gateway in gateways.values():
        gateway.desired_config, gateway.desired_config_hash = run.version.config_yaml, run.version.sha256
    run.deployment.current_batch, run.deployment.gate_passed_at = number, None
    sent = sum(target.status == TargetStatus.SENT for target in batch)
    waiting = len(batch) - sent
    message = f"{run.deployment.batch_label(number)} started: sent to {sent} target(s)"
    message += f", {waiting} wait for their gateway to connect." if waiting else "."
    run.event(
        EventKind.BATCH_STARTED,
        message,
        count=len(batch),
        batch=number,
        sent=sent,
        waiting_offline=waiting,
        gateways=names(batch),
    )


def stop(run, reason):
    """Stop the deployment (failed) and, with auto_rollback, give the changed targets their previous config."""
    failed = sum(target.status == TargetStatus.FAILED for target in run.targets)
    finish(run, DeploymentStatus.FAILED, EventKind.STOPPED, f"Stopped: {reason}", count=failed)
    if run.deployment.auto_rollback:
        rollback.start(run, "Rolled back automatically", refuse_if_nothing=False)
