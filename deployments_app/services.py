"""Services of deployments: checking targets, planning batches and creating deployments.

Targets are chosen by gateways_app.selection; their desired config is changed by
gateways_app.services.assign_desired_config, when the engine starts a batch.

A new deployment is checked against its targets' components (deployments_app.target_check,
refused unless an admin forces it) and starts "validating": the validating task checks it again
and hands it to the rollout engine (deployments_app.rollout), which sends the batches, watches
the gates and rolls back; operator actions are in deployments_app.actions.
"""

import math

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core_app import audit
from core_app.models import Strategy
from core_app.services import get_org_settings
from deployments_app import target_check
from deployments_app.models import (
    FINISHED_STATUSES,
    Deployment,
    DeploymentStatus,
    DeploymentTarget,
    TargetStatus,
)
from deployments_app.signals import validation_requested
from gateways_app.selection import NO_TARGETS, resolve_targets

BATCH_FIELDS = ("batch_size", "batch_percent")
CANARY_FIELDS = ("canary_count", "canary_percent")
# Every deployment setting a caller may give; None (or absent) means "use the default".
PARAM_FIELDS = (
    "strategy",
    *BATCH_FIELDS,
    *CANARY_FIELDS,
    "failure_threshold_count",
    "failure_threshold_percent",
    "auto_rollback",
    "health_window_seconds",
    "pause_seconds",
    "apply_timeout_seconds",
)


def _group_size(n_targets, size, percent):
    if size is None and percent is None:
        raise ValueError("Give a count or a percent for each batch (create_deployment fills them in).")
    if size is None:
        size = math.ceil(n_targets * percent / 100)
    return max(1, size)


def _rolling(n_targets, size, first_batch=0):
    return [first_batch + index // size for index in range(n_targets)]


def plan_batches(n_targets, deployment):
    """The batch number of each target index (0 to n_targets - 1) under the deployment's strategy.

    - all_at_once: everything in batch 0.
    - rolling: batches of `batch_size` targets, or of ceil(batch_percent % of n_targets); at least 1.
    - canary: the first `canary_count` targets, or ceil(canary_percent % of n_targets) (at least 1),
      form batch 0; the rest follow in rolling batches (percent of all targets) from batch 1.

    `create_deployment` fills missing percents from the organization's defaults before calling this.
    """
    strategy = deployment.strategy
    if strategy == Strategy.ALL_AT_ONCE:
        return [0] * n_targets
    size = _group_size(n_targets, deployment.batch_size, deployment.batch_percent)
    if strategy == Strategy.ROLLING:
        return _rolling(n_targets, size)
    if strategy != Strategy.CANARY:
        raise ValueError(f"Unknown strategy {strategy!r}.")
    canaries = min(n_targets, _group_size(n_targets, deployment.canary_count, deployment.canary_percent))
    return [0] * canaries + _rolling(n_targets - canaries, size, first_batch=1)


def _with_defaults(org, params):
    """The caller's settings, with what they left out taken from the organization's defaults."""
    unknown = set(params) - set(PARAM_FIELDS)
    if unknown:
        raise TypeError(f"Unknown deployment settings: {', '.join(sorted(unknown))}")
    values = {name: params.get(name) for name in PARAM_FIELDS}
    org_settings = get_org_settings(org)
    values["strategy"] = values["strategy"] or org_settings.default_strategy
    if values["auto_rollback"] is None:
        values["auto_rollback"] = org_settings.default_auto_rollback
    if values["health_window_seconds"] is None:
        values["health_window_seconds"] = org_settings.default_health_window_seconds
    if values["failure_threshold_count"] is None and values["failure_threshold_percent"] is None:
        values["failure_threshold_percent"] = org_settings.default_failure_threshold_percent
    for name in ("pause_seconds", "apply_timeout_seconds"):
        if values[name] is None:
            values[name] = Deployment._meta.get_field(name).default
    _fill_batch_defaults(values, org_settings)
    return values


def _fill_batch_defaults(values, org_settings):
    """Rolling and canary batches the caller left open use the organization's percents."""
    strategy = values["strategy"]
    if strategy in (Strategy.ROLLING, Strategy.CANARY) and _unset(values, BATCH_FIELDS):
        values["batch_percent"] = org_settings.default_batch_percent
    if strategy == Strategy.CANARY and _unset(values, CANARY_FIELDS):
        values["canary_percent"] = org_settings.default_canary_percent


def _unset(values, names):
    return all(values[name] is None for name in names)


def _check_strategy_params(values):
    """Refuse settings that contradict each other or do not apply to the strategy."""
    errors = {}
    strategy = values["strategy"]
    if strategy == Strategy.ALL_AT_ONCE:
        for name in (*BATCH_FIELDS, *CANARY_FIELDS):
            if values[name] is not None:
                errors[name] = "Batch and canary settings do not apply to the all_at_once strategy."
    elif strategy == Strategy.ROLLING:
        for name in CANARY_FIELDS:
            if values[name] is not None:
                errors[name] = "Canary settings apply only to the canary strategy."
    if values["batch_size"] is not None and values["batch_percent"] is not None:
        errors["batch_percent"] = "Give a batch size or a batch percent, not both."
    if values["canary_count"] is not None and values["canary_percent"] is not None:
        errors["canary_percent"] = "Give a canary count or a canary percent, not both."
    if errors:
        raise ValidationError(errors)


def _check_ownership(org, template_version, tags, gateways):
    """Everything a deployment points at must belong to its organization."""
    errors = {}
    if template_version.template.organization_id != org.pk:
        errors["template_version"] = f"This template version does not exist in organization {org.slug}."
    foreign_tags = [str(tag) for tag in tags if tag.organization_id != org.pk]
    if foreign_tags:
        errors["selector_tags"] = f"Tag {', '.join(foreign_tags)} does not exist in organization {org.slug}."
    foreign_gateways = [str(gateway.pk) for gateway in gateways if gateway.organization_id != org.pk]
    if foreign_gateways:
        errors["selector_gateways"] = (
            f"Gateway {', '.join(foreign_gateways)} does not exist in organization {org.slug}."
        )
    if errors:
        raise ValidationError(errors)


def build_deployment(org, *, template_version, selector_tags=(), selector_gateways=(), user=None, **params):
    """An unsaved, validated Deployment with the organization's defaults filled in.

    Raises ValidationError (keyed by field) for anything wrong; writes nothing.
    """
    _check_ownership(org, template_version, selector_tags, selector_gateways)
    if not template_version.is_deployable():
        # Validation found errors when the version was saved (templates_app.validation).
        raise ValidationError(
            {"template_version": f"{template_version.validation_summary()}. Fix it in a new version to deploy it."}
        )
    values = _with_defaults(org, params)
    _check_strategy_params(values)
    deployment = Deployment(organization=org, template_version=template_version, created_by=user, **values)
    deployment.full_clean(exclude=["created_by"])
    return deployment


def check_deployment(
    org, *, template_version, selector_tags=(), selector_gateways=(), force=False, user=None, **params
):
    """Validate a deployment request without writing anything (forms call this from clean()).

    Includes the check against the targets' components (TargetsRefused unless `force`, which
    only an admin or owner `user` may ask for: PermissionDenied otherwise).
    """
    deployment = build_deployment(
        org,
        template_version=template_version,
        selector_tags=selector_tags,
        selector_gateways=selector_gateways,
        **params,
    )
    gateways = resolve_targets(org, tags=selector_tags, gateways=selector_gateways)
    if not gateways.exists():
        raise ValidationError(NO_TARGETS)
    refuse_busy_gateways(gateways)
    result = target_check.check(org, template_version, list(gateways.only("pk", "name", "available_components")))
    target_check.refuse_unless_forced(org, template_version, result, force=force, user=user)
    return deployment


def refuse_busy_gateways(gateways):
    """A gateway takes part in one rollout at a time: refuse those an unfinished deployment has yet to settle.

    Two deployments sending batches to the same gateway would overwrite each other in whatever
    order their batches start. A gateway whose target is applied or failed is free again.
    """
    busy = (
        DeploymentTarget.objects.filter(gateway__in=gateways, status__in=(TargetStatus.PENDING, TargetStatus.SENT))
        .exclude(deployment__status__in=FINISHED_STATUSES)
        .select_related("gateway", "deployment__template_version__template")
        .order_by("gateway__name")
    )
    found = list(busy[:5])
    if found:
        names = sorted({target.gateway.name for target in found})
        subject = f"Gateways {', '.join(names)} are" if len(names) > 1 else f"Gateway {names[0]} is"
        deployment = found[0].deployment
        raise ValidationError(
            f"{subject} still in deployment {deployment.pk} ({deployment.template_version}, "
            f"{deployment.get_status_display().lower()}): wait for it to finish, or cancel it."
        )


def _create_targets(deployment, gateways):
    """One target per gateway, with its batch and the config it was meant to run before."""
    batches = plan_batches(len(gateways), deployment)
    DeploymentTarget.objects.bulk_create(
        DeploymentTarget(
            deployment=deployment,
            gateway=gateway,
            batch=batch,
            previous_config=gateway.desired_config,
            previous_config_hash=gateway.desired_config_hash,
        )
        for gateway, batch in zip(gateways, batches, strict=True)
    )


def _lock_targets(org, tags, gateways):
    """The selected gateways, locked until the transaction ends; refuses an empty selection.

    Locked in name order (so concurrent deployments cannot deadlock) so that the previous
    config recorded for rollback is the one this deployment replaces.
    """
    locked = list(resolve_targets(org, tags=tags, gateways=gateways).select_for_update())
    if not locked:
        raise ValidationError(NO_TARGETS)
    refuse_busy_gateways(locked)
    return locked


def create_deployment(
    org,
    *,
    template_version,
    selector_tags=(),
    selector_gateways=(),
    user,
    request=None,
    now=None,
    force=False,
    **params,
):
    """Create a deployment of `template_version` to the gateways matched by the selector.

    `params` are the deployment settings of PARAM_FIELDS; missing ones come from the
    organization's defaults. Refuses (ValidationError, nothing written) anything invalid, a
    selector that matches no gateway, and targets lacking components the version uses
    (target_check.TargetsRefused) unless `force` is given by an admin or owner (PermissionDenied
    for anyone else; a forced creation is audited as deployment.forced). The deployment starts
    "validating": no gateway's desired config changes here; the validating task (queued for
    after the commit, or run by the embedded beat without a broker) checks it again and starts
    the rollout.
    """
    now = now or timezone.now()
    selector_tags = list(selector_tags)
    selector_gateways = list(selector_gateways)
    with transaction.atomic():
        deployment = build_deployment(
            org,
            template_version=template_version,
            selector_tags=selector_tags,
            selector_gateways=selector_gateways,
            user=user,
            **params,
        )
        gateways = _lock_targets(org, selector_tags, selector_gateways)
        result = target_check.check(org, template_version, gateways)
        target_check.refuse_unless_forced(org, template_version, result, force=force, user=user)
        deployment.status = DeploymentStatus.VALIDATING
        deployment.forced = not result.ok
        deployment.validation = result.as_dict()
        deployment.save()
        deployment.selector_tags.set(selector_tags)
        deployment.selector_gateways.set(selector_gateways)
        _create_targets(deployment, gateways)
        changes = _audit_changes(deployment, gateways)
        audit.record(org, "deployment.created", deployment, user=user, request=request, changes=changes)
        if deployment.forced:
            target_check.audit_forced(deployment, result, user=user, request=request)
        transaction.on_commit(lambda: validation_requested.send(sender=Deployment, deployment_id=str(deployment.pk)))
    return deployment


def _audit_changes(deployment, gateways):
    return {
        "template_version": str(deployment.template_version),
        "strategy": deployment.strategy,
        "target_count": len(gateways),
        "targets": [gateway.name for gateway in gateways[:50]],
        "forced": deployment.forced,
    }
