"""Rollback: give a deployment's targets their previous config back, and watch them until they apply it.

A rollback only claims what it does. Per target this deployment changed (DeploymentTarget.rollback):

- `returning`: it had a previous desired config; that config is its desired one again and the
  OpAMP server pushes it. Like a rollout's target it is watched: `restored` once its gateway
  reports APPLIED with the previous config's hash, `failed` when it reports FAILED for it or says
  nothing within apply_timeout_seconds of being sent it (a gateway offline waits, and is sent it
  when it reconnects);
- `kept`: it had no desired config before this deployment. OpAMP cannot take a config back, so
  its desired config stays this deployment's version (what the gateway runs): desired and
  reported state stay consistent and drift stays true. Another deployment replaces it;
- `withdrawn`: never sent (its gateway stayed offline) and nothing to return to: the desired config
  is cleared again, so it is never sent;
- `left_alone`: its desired config changed since (another deployment): not touched.

The target's `status` is how the rollout went and is not changed: a failed target stays failed.
While targets are returning the deployment is `rolling_back` and ticked like a rolling-out one;
it ends `rolled_back` once none is returning. A rollback in which no target can return (nothing
had a previous config) is refused when an operator asks for it (actions.roll_back), and recorded
as not possible when automatic: the deployment stays `failed`.
"""

from dataclasses import dataclass
from datetime import timedelta

from deployments_app import runs
from deployments_app.models import DeploymentStatus, EventKind, Outcome, RollbackState, TargetStatus
from gateways_app.models import Gateway, GatewayStatus, RemoteConfigStatus
from gateways_app.services import assign_desired_config


@dataclass(frozen=True)
class PreviousConfig:
    """A config given back, shaped like the TemplateVersion assign_desired_config() takes."""

    config_yaml: str
    sha256: str


class NothingToRollBack(Exception):
    """No target of the deployment has a previous config to return to; the message says what each keeps."""


def plan(run):
    """{state: [targets]} for the targets this deployment changed, without changing anything.

    Targets an earlier (automatic) rollback could not return are looked at again: they still keep
    the version, and asking again must say so, not that nothing was changed.
    """
    again = ("", RollbackState.KEPT)
    assigned = [target for target in run.targets if runs.was_assigned(run, target) and target.rollback in again]
    ours = still_ours(run, assigned)
    groups = {state: [] for state in RollbackState.values}
    for target in assigned:
        if target.gateway_id not in ours:
            groups[RollbackState.LEFT_ALONE].append(target)
        elif target.previous_config_hash:
            groups[RollbackState.RETURNING].append(target)
        elif target.status == TargetStatus.PENDING:
            groups[RollbackState.WITHDRAWN].append(target)
        else:
            groups[RollbackState.KEPT].append(target)
    return groups


def start(run, prefix, *, refuse_if_nothing=True):
    """Start rolling back the locked deployment of `run`: returning targets get their previous config.

    `prefix` begins the timeline message ("Rolled back by alice"). When no target can return and
    none is withdrawn: NothingToRollBack if `refuse_if_nothing` (an operator asked: nothing is
    changed), else the targets are marked and an event says why nothing was rolled back.
    """
    deployment = run.deployment
    groups = plan(run)
    returning, kept = groups[RollbackState.RETURNING], groups[RollbackState.KEPT]
    withdrawn, left_alone = groups[RollbackState.WITHDRAWN], groups[RollbackState.LEFT_ALONE]
    version = f"version {run.version.number}"
    if not returning and not withdrawn:
        message = nothing_message(kept, left_alone, version)
        if refuse_if_nothing:
            raise NothingToRollBack(message)
        mark(run, kept, RollbackState.KEPT)
        mark(run, left_alone, RollbackState.LEFT_ALONE)
        run.event(
            EventKind.ROLLBACK_STARTED,
            f"{prefix}: not possible. {message}",
            kept=runs.names(kept),
            left_alone=runs.names(left_alone),
        )
        return False
    give_back(run, returning + withdrawn)
    for target in returning:
        target.rollback_sent_at = None if target.gateway.status == GatewayStatus.OFFLINE else run.now
    mark(run, returning, RollbackState.RETURNING)
    mark(run, withdrawn, RollbackState.WITHDRAWN)
    mark(run, kept, RollbackState.KEPT)
    mark(run, left_alone, RollbackState.LEFT_ALONE)
    if not deployment.outcome:
        deployment.outcome = Outcome.ROLLED_BACK  # stopped by an operator before the rollout ended
    deployment.next_tick_at = None
    if returning:
        deployment.status, deployment.finished_at = DeploymentStatus.ROLLING_BACK, None
        runs.queue_tick(deployment.pk)
    else:
        deployment.status, deployment.finished_at = DeploymentStatus.ROLLED_BACK, run.now
    parts = [f"{len(returning)} target(s) are returning to their previous config"]
    if withdrawn:
        parts.append(f"{len(withdrawn)} never sent (gateway offline) had it withdrawn")
    if kept:
        parts.append(f"{len(kept)} had no previous config and keep {version} (deploy another version to replace it)")
    if left_alone:
        parts.append(f"{len(left_alone)} left alone (their desired config changed since)")
    run.event(
        EventKind.ROLLBACK_STARTED,
        f"{prefix}: " + "; ".join(parts) + ".",
        count=len(returning),
        returning=runs.names(returning),
        withdrawn=runs.names(withdrawn),
        kept=runs.names(kept),
        left_alone=runs.names(left_alone),
    )
    return True


def still_ours(run, targets):
    """Ids of the targets' gateways whose desired config is still this deployment's version (locked)."""
    gateways = Gateway.objects.select_for_update().filter(
        pk__in=[target.gateway_id for target in targets], desired_config_hash=run.version.sha256
    )
    return set(gateways.order_by("name").values_list("pk", flat=True))


def withdraw(run, targets, error):
    """For cancel: targets still waiting offline get their previous desired config back (or none).

    They never got this version, so a gateway without a previous config has its desired config
    cleared: there is nothing to take back. Gateways given another config since are left alone.
    """
    ours = still_ours(run, targets)
    back = [target for target in targets if target.gateway_id in ours]
    give_back(run, back)
    for target in back:
        target.error = error
        run.changed(target)


def nothing_message(kept, left_alone, version):
    parts = []
    if kept:
        gateways = ", ".join(runs.names(kept))
        parts.append(
            f"{len(kept)} target(s) had no config before this deployment and keep {version} ({gateways}): "
            "OpAMP cannot take a config back; deploy another version to replace it."
        )
    if left_alone:
        parts.append(f"{len(left_alone)} target(s) run another deployment's config since and are left alone.")
    return "Nothing to roll back to: " + (" ".join(parts) or "this deployment changed no gateway.")


def mark(run, targets, state):
    for target in targets:
        target.rollback = state
        run.changed(target)


def give_back(run, targets):
    """Make each target's previous desired config its desired config again: one UPDATE and one push per config."""
    groups = {}
    for target in targets:
        groups.setdefault(target.previous_config_hash, []).append(target)
    for digest, group in groups.items():
        previous = PreviousConfig(group[0].previous_config, digest)
        gateway_ids = [target.gateway_id for target in group]
        assign_desired_config(Gateway.objects.filter(pk__any=gateway_ids), previous, now=run.now)


def advance(run):
    """One tick of a rolling-back deployment: settle the returning targets from their gateways' reports."""
    restored, failed = [], []
    for target in run.targets:
        if target.rollback != RollbackState.RETURNING:
            continue
        state = observe_target(run, target)
        if state:
            target.rollback = state
            (restored if state == RollbackState.RESTORED else failed).append(target)
        run.changed(target)
    if restored:
        run.event(
            EventKind.RESTORED,
            f"{len(restored)} target(s) applied their previous config.",
            count=len(restored),
            gateways=runs.names(restored),
        )
    if failed:
        errors = {target.gateway.name: target.rollback_error for target in failed[: runs.NAMES_IN_EVENT]}
        message = f"{len(failed)} target(s) did not get their previous config back."
        run.event(EventKind.ROLLBACK_FAILED, message, count=len(failed), errors=errors)
    if any(target.rollback == RollbackState.RETURNING for target in run.targets):
        return
    done = [target for target in run.targets if target.rollback == RollbackState.RESTORED]
    not_done = [target for target in run.targets if target.rollback == RollbackState.FAILED]
    message = f"Rolled back: {len(done)} target(s) run their previous config again"
    message += f"; {len(not_done)} did not get it back." if not_done else "."
    deployment = run.deployment
    deployment.status, deployment.finished_at, deployment.next_tick_at = DeploymentStatus.ROLLED_BACK, run.now, None
    run.event(EventKind.ROLLED_BACK, message, count=len(done), failed=runs.names(not_done))


def observe_target(run, target):
    """The returning target's new rollback state from its gateway's reports, or None while it waits."""
    gateway = target.gateway
    if gateway.desired_config_hash != target.previous_config_hash:
        target.rollback_error = (
            "Its desired config was replaced (by another deployment) before it applied its previous one."
        )
        return RollbackState.LEFT_ALONE
    reported = gateway.remote_config_hash == target.previous_config_hash
    if reported and gateway.remote_config_status == RemoteConfigStatus.APPLIED:
        return RollbackState.RESTORED
    if reported and gateway.remote_config_status == RemoteConfigStatus.FAILED:
        target.rollback_error = gateway.remote_config_error or "The gateway could not apply its previous config."
        return RollbackState.FAILED
    if target.rollback_sent_at is None:
        if gateway.status != GatewayStatus.OFFLINE:
            target.rollback_sent_at = run.now  # connected again: the OpAMP server sent it the config
        return None
    timeout = run.deployment.apply_timeout_seconds
    if run.now - target.rollback_sent_at > timedelta(seconds=timeout):
        target.rollback_error = f"No report of its previous config within {timeout} s."
        return RollbackState.FAILED
    return None
