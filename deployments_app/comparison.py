"""Before vs after for a deployment or a template version: where and when it was applied, measured by telemetry_app.

telemetry_app.comparison computes the figures from rollups around Placements; this module knows the placements
(deployment targets) and is what the pages and the API call. templates_app may not import either app, so the
template version page includes the version's comparison from a route of this app (`templates:comparison`,
docs/architecture.md).
"""

from deployments_app.models import DeploymentTarget
from telemetry_app import comparison as measured
from telemetry_app.comparison import Placement

FIELDS = ("gateway_id", "gateway__name", "sent_at", "applied_at", "rollback_sent_at", "previous_config_hash")


def _placements(targets, sha256):
    """Placements of applied targets that changed their gateway's configuration, earliest first."""
    rows = targets.filter(applied_at__isnull=False).order_by("applied_at").values_list(*FIELDS)
    return [
        Placement(gateway_id, name, sent_at, applied_at, until)
        for gateway_id, name, sent_at, applied_at, until, previous_hash in rows
        # The same configuration again changes nothing: both windows would measure it.
        if previous_hash != sha256
    ]


def for_deployment(deployment, *, now=None):
    """The Comparison of one deployment: its applied targets, each against the hour before it was sent."""
    targets = DeploymentTarget.objects.filter(deployment=deployment)
    placements = _placements(targets, deployment.template_version.sha256)
    return measured.compare(deployment.organization, placements, now=now)


def for_version(org, version, *, now=None):
    """The Comparison of a template version: every gateway a deployment of it was applied to (the first time)."""
    targets = DeploymentTarget.objects.filter(deployment__organization=org, deployment__template_version=version)
    return measured.compare(org, _placements(targets, version.sha256), now=now)
