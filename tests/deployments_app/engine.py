"""Helpers of the rollout engine tests: fixed time, a fleet of connected gateways, reports set directly.

No sockets: a test plays the OpAMP server by writing what an agent would have reported
(Gateway.remote_config_*, status) and then runs a tick at a fixed moment.
"""

from datetime import UTC, datetime, timedelta

from deployments_app import rollout, target_check
from deployments_app.models import Deployment
from deployments_app.services import create_deployment
from gateways_app.models import Gateway, GatewayStatus, RemoteConfigStatus
from templates_app.models import sha256_of
from tests.deployments_app.conftest import make_gateway, make_version

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
OLD = "receivers:\n  otlp: {}\n# old\n"
NEW = "receivers:\n  otlp: {}\n# new\n"
OTHER = "receivers:\n  otlp: {}\n# other\n"
APPLIED, FAILED = RemoteConfigStatus.APPLIED, RemoteConfigStatus.FAILED


def at(seconds):
    return NOW + timedelta(seconds=seconds)


def make_fleet(org, count):
    """`count` connected gateways gw-01, gw-02… whose desired and applied config is OLD."""
    digest = sha256_of(OLD)
    return [
        make_gateway(
            org,
            f"gw-{index:02d}",
            status=GatewayStatus.ONLINE,
            desired_config=OLD,
            desired_config_hash=digest,
            remote_config_hash=digest,
            remote_config_status=APPLIED,
        )
        for index in range(1, count + 1)
    ]


def new_version(org):
    return make_version(org, name="edge", config_yaml=NEW)


def deploy(org, user, version, gateways, **params):
    """A deployment created at NOW and validated (target_check.validate, the validating task's work) at NOW:
    rolling out unless the check refused it; no health window unless the test asks for one."""
    params.setdefault("health_window_seconds", 0)
    deployment = create_deployment(
        org, template_version=version, selector_gateways=gateways, user=user, now=NOW, **params
    )
    return target_check.validate(deployment.pk, now=NOW)


def tick(deployment, seconds):
    """One engine tick at NOW + seconds; the deployment as it is afterwards."""
    rollout.advance(deployment.pk, now=at(seconds))
    return Deployment.objects.get(pk=deployment.pk)


def gateways_named(*names):
    return Gateway.objects.filter(name__in=names)


def report(names, version, status=APPLIED, error=""):
    """The agents of these gateways report `status` for the version's hash."""
    gateways_named(*names).update(
        remote_config_hash=version.sha256, remote_config_status=status, remote_config_error=error
    )


def report_sent(deployment, version):
    """Every gateway whose target is sent reports APPLIED."""
    names = deployment.targets.filter(status="sent").values_list("gateway__name", flat=True)
    report(list(names), version)


def set_status(status, *names):
    gateways_named(*names).update(status=status)


def states(deployment):
    """{gateway name: target status}."""
    return dict(deployment.targets.values_list("gateway__name", "status"))


def desired(deployment):
    """{gateway name: the config it should run}, by content: "old", "new", "other"."""
    names = {sha256_of(OLD): "old", sha256_of(NEW): "new", sha256_of(OTHER): "other", "": ""}
    rows = Gateway.objects.filter(deployment_targets__deployment=deployment)
    return {name: names[digest] for name, digest in rows.values_list("name", "desired_config_hash")}


def kinds(deployment):
    return list(deployment.events.values_list("kind", flat=True))


def sent_at(deployment):
    """{gateway name: seconds after NOW it was sent}, for sent targets."""
    rows = deployment.targets.exclude(sent_at=None).values_list("gateway__name", "sent_at")
    return {name: int((moment - NOW).total_seconds()) for name, moment in rows}
