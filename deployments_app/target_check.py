"""A deployment's template version checked against its target gateways: can each of them run it?

The version itself was validated when it was saved (templates_app.validation), against what
the organization's gateways reported as a pool; a deployment needs more: every target must have
every component the config defines (the gateway's OpAMP AvailableComponents), as
POST /api/v1/validation answers for a selector. This module says, per gateway, which components
are missing, and runs when:

- a deployment is created (pages, API, admin: services.create_deployment and the forms'
  check_deployment), which refuses with the list unless an admin or owner forces it (audited);
- the validating task (tasks.validate_deployment, `validate()` here) checks again against the
  targets as they are then, plus the deep check (`<collector> validate`, where
  settings.FLOWGATE_COLLECTOR_BINARY is set), and moves the deployment on to rolling out or
  ends it "refused" with the per-gateway errors.

A gateway that applied this very config before (same hash; `applied_before`) is not refused for it:
rolling back to a config it ran (actions.roll_back_to_version) is never blocked by its component
report, and if it cannot run it any more the gateway's own report says so.

Gateways that never reported their components (never connected, or a collector without the
capability) are checked against the upstream otelcol-contrib catalogue, as POST /validation does,
and are named in a warning: the portal cannot know what they run, and refusing every deployment
to a gateway that is being set up would leave only `force`.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from core_app import audit
from core_app.roles import Role, has_role
from deployments_app import rollout, runs
from deployments_app.models import Deployment, DeploymentStatus, DeploymentTarget, EventKind, TargetStatus
from gateways_app.models import Gateway, RemoteConfigStatus
from templates_app import collector_check
from templates_app.components import SECTIONS, reported_types
from templates_app.config_schema import id_problem, singular
from templates_app.validation import scope_for_org
from templates_app.yaml_loader import ConfigYamlError, load_config_yaml

FORCE_ROLE = Role.ADMIN  # who may deploy despite the check's refusal (owners too)
LISTED_GATEWAYS = 20  # gateways named one by one in a refusal message; the rest are counted


@dataclass
class TargetCheck:
    """The outcome: `missing` maps a gateway (id, name) to the components it lacks ("exporter otlp")."""

    checked: int = 0
    missing: list = field(default_factory=list)  # [{"gateway": id, "gateway_name": name, "missing": [...]}]
    unreported: list = field(default_factory=list)  # names of gateways that never reported components
    errors: list = field(default_factory=list)  # problems of the config itself (parse error, deep check)
    deep_check: dict = field(default_factory=lambda: collector_check.DeepCheck(collector_check.NOT_REQUESTED).as_dict())

    @property
    def ok(self):
        return not self.missing and not self.errors

    def summary(self, version):
        """One sentence for a refusal (form error, API message, timeline)."""
        if self.errors:
            return f"{version} cannot be deployed: {' '.join(self.errors)}"
        lacking, plural = len(self.missing), "s" if self.checked != 1 else ""
        return (
            f"{version} cannot run on {lacking} of the {self.checked} target gateway{plural}: "
            f"{'it lacks' if lacking == 1 else 'they lack'} components the config uses."
        )

    def gateway_lines(self):
        """One line per gateway lacking components: "edge-1 lacks exporter debug, exporter otlp"."""
        lines = [f"{row['gateway_name']} lacks {', '.join(row['missing'])}." for row in self.missing[:LISTED_GATEWAYS]]
        if len(self.missing) > LISTED_GATEWAYS:
            lines.append(f"And {len(self.missing) - LISTED_GATEWAYS} more gateways (see the deployment's check).")
        return lines

    def warning(self):
        """Gateways checked against the catalogue only (they never reported their components), or ""."""
        if not self.unreported:
            return ""
        count = len(self.unreported)
        names = ", ".join(self.unreported[:LISTED_GATEWAYS]) + (" …" if count > LISTED_GATEWAYS else "")
        return (
            f"{count} gateway{'s' if count != 1 else ''} never reported {'their' if count != 1 else 'its'} components "
            f"({names}): checked against the otelcol-contrib catalogue only."
        )

    def as_dict(self):
        return {
            "ok": self.ok,
            "checked": self.checked,
            "missing": self.missing,
            "unreported": self.unreported,
            "errors": self.errors,
            "deep_check": self.deep_check,
        }


class TargetsRefused(ValidationError):
    """The check refused the deployment; `check` holds the per-gateway details (the API returns them)."""

    def __init__(self, check, version):
        self.check = check
        super().__init__([check.summary(version), *check.gateway_lines()], code="targets")


def check(org, version, gateways, *, deep=False):
    """The TargetCheck of `version` (a TemplateVersion) on `gateways` (with available_components).

    `deep` also runs the configured collector binary's `validate` (a process: tasks only, never
    in a web request).
    """
    result = TargetCheck(checked=len(gateways))
    result.unreported = sorted(gateway.name for gateway in gateways if not reported_types(gateway.available_components))
    try:
        data = load_config_yaml(version.config_yaml, max_bytes=settings.FLOWGATE_MAX_CONFIG_BYTES).data
    except ConfigYamlError as exc:
        result.errors.append(f"its config does not parse ({exc.message}).")
        return result
    if not isinstance(data, dict) or not gateways:
        return result
    scope = scope_for_org(org, gateways)
    lacking = {}
    for section in SECTIONS:
        components = data.get(section)
        if not isinstance(components, dict):
            continue
        for component_id in components:
            type_name = str(component_id).partition("/")[0]
            if id_problem(component_id) or type_name in scope.extras:
                continue
            for source in scope.sources:
                if not source.has(section, type_name):
                    lacking.setdefault(source.gateway, set()).add(f"{singular(section)} {type_name}")
    ran_it = applied_before(version, [gateway.pk for gateway in lacking])
    result.missing = [
        {"gateway": str(gateway.pk), "gateway_name": gateway.name, "missing": sorted(names)}
        for gateway, names in sorted(lacking.items(), key=lambda item: item[0].name)
        if gateway.pk not in ran_it
    ]
    if deep:
        _deep_check(version, result)
    return result


def applied_before(version, gateway_ids):
    """Ids of these gateways that applied this very config (same hash) in a deployment, or report it applied now.

    They are not refused for it, whatever their component report says now: rolling back to a
    config a gateway ran (actions.roll_back_to_version, or deploying an old version again) must
    not be blocked by the check, and if the gateway cannot run it any more, its report says so.
    """
    if not gateway_ids:
        return set()
    applied = DeploymentTarget.objects.filter(
        gateway_id__in=gateway_ids, status=TargetStatus.APPLIED, deployment__template_version__sha256=version.sha256
    ).values_list("gateway_id", flat=True)
    running = Gateway.objects.filter(
        pk__in=gateway_ids, remote_config_hash=version.sha256, remote_config_status=RemoteConfigStatus.APPLIED
    ).values_list("pk", flat=True)
    return set(applied) | set(running)


def _deep_check(version, result):
    binary = settings.FLOWGATE_COLLECTOR_BINARY
    if not binary:
        deep = collector_check.DeepCheck(collector_check.UNAVAILABLE, "No collector binary is configured.")
    else:
        timeout = settings.FLOWGATE_COLLECTOR_VALIDATE_TIMEOUT_SECONDS
        deep = collector_check.run_collector_validate(version.config_yaml, binary=binary, timeout=timeout)
    result.deep_check = deep.as_dict()
    if deep.status == collector_check.FAILED:
        result.errors.append(f"the collector refuses this configuration: {deep.message}")


def may_force(org, user):
    return user is not None and has_role(org.role_of(user), FORCE_ROLE)


def refuse_unless_forced(org, version, result, *, force, user):
    """Raise TargetsRefused when the check failed and no force was asked; PermissionDenied when a
    user below admin asks for force (even with nothing to override: the request is wrong)."""
    if force and not may_force(org, user):
        raise PermissionDenied(f"Only an admin or owner of {org.name} may force a deployment past the target check.")
    if not result.ok and not force:
        raise TargetsRefused(result, version)


def audit_forced(deployment, result, *, user, request=None):
    """The audit entry of a forced creation: who (the entry's user), which gateways, which components."""
    changes = {
        "template_version": str(deployment.template_version),
        "missing": {row["gateway_name"]: row["missing"] for row in result.missing[:100]},
        "gateway_count": len(result.missing),
        "errors": result.errors,
    }
    audit.record(deployment.organization, "deployment.forced", deployment, user=user, request=request, changes=changes)


def validate(deployment_id, *, now=None, deep=True):
    """The validating step (tasks.validate_deployment): check the targets again, then roll out or refuse.

    The check (and the deep check's process) runs before the row lock is taken; a deployment
    cancelled meanwhile is left alone. Returns the deployment; a no-op unless it is validating.
    """
    deployment = Deployment.objects.select_related("organization", "template_version__template").get(pk=deployment_id)
    if deployment.status != DeploymentStatus.VALIDATING:
        return deployment
    version = deployment.template_version
    gateways = [target.gateway for target in deployment.targets.select_related("gateway").order_by("gateway__name")]
    result = check(deployment.organization, version, gateways, deep=deep)
    now = now or timezone.now()
    with transaction.atomic():
        run = runs.Run(runs.lock(deployment_id), now)
        deployment = run.deployment
        if deployment.status != DeploymentStatus.VALIDATING:
            return deployment
        deployment.validation, deployment.validated_at = result.as_dict(), now
        deployment.save(update_fields=["validation", "validated_at", "updated_at"])
        reason = _refusal(deployment, run, result)
        if reason:
            _refuse(run, reason, result)
            run.save()
            return deployment
        message = "Validated: every target can run this version."
        if not result.ok:
            message = f"Validated with force: {result.summary(version)} The rollout goes on as an admin asked."
        if result.unreported:
            message += f" {result.warning()}"
        run.event(EventKind.VALIDATED, message, count=len(run.targets), **_event_data(result))
        deployment.status, deployment.started_at = DeploymentStatus.ROLLING_OUT, now
        run.save()
        rollout.start(deployment, now=now)
    return deployment


def _refusal(deployment, run, result):
    version = deployment.template_version
    if not run.targets:
        return "All targets were deleted (their gateways no longer exist)."
    if not version.is_deployable():
        return f"{version.validation_summary()}."
    if result.errors:
        # The config itself is refused (the collector's own check): force covered only missing components.
        return result.summary(version)
    if not result.ok and not deployment.forced:
        return result.summary(version)
    return ""


def _refuse(run, reason, result):
    """End the deployment "refused": nothing was sent; each target says why."""
    lacking = {row["gateway"]: row["missing"] for row in result.missing}
    for target in run.targets:
        missing = lacking.get(str(target.gateway_id))
        target.error = f"Lacks {', '.join(missing)}." if missing else "Not sent: the deployment was refused."
        run.changed(target)
    deployment = run.deployment
    deployment.status, deployment.finished_at, deployment.next_tick_at = DeploymentStatus.REFUSED, run.now, None
    count = len(result.missing)
    data = _event_data(result)
    run.event(EventKind.REFUSED, f"Refused: {reason}", count=count, status=DeploymentStatus.REFUSED, **data)


def _event_data(result):
    return {
        "missing": {row["gateway_name"]: row["missing"] for row in result.missing[: runs.NAMES_IN_EVENT]},
        "unreported": result.unreported[: runs.NAMES_IN_EVENT],
        "deep_check": result.deep_check["status"],
    }
