"""Deployments checked against their targets' components (issue 13, point 1): at creation, and
again by the validating task before anything is sent."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from core_app.models import AuditLog
from core_app.roles import Role
from core_app.services import get_org_settings, set_membership
from deployments_app import target_check, tasks
from deployments_app.models import Deployment, DeploymentStatus, TargetStatus
from deployments_app.services import check_deployment, create_deployment
from gateways_app.models import Gateway
from tests import live
from tests.conftest import make_user
from tests.deployments_app.components import CONFIG, FULL, NO_OTLP_OUT
from tests.deployments_app.conftest import make_gateway, make_version
from tests.deployments_app.engine import NOW, at
from tests.live import Daphne, free_port
from tests.templates_app.validation_helpers import collector_binary, reported


@pytest.fixture
def version(org):
    return make_version(org, name="edge", config_yaml=CONFIG)


@pytest.fixture
def fleet(org):
    return {
        "ok": make_gateway(org, "edge-ok", "env=prod", available_components=FULL),
        "small": make_gateway(org, "edge-small", "env=prod", available_components=NO_OTLP_OUT),
        "new": make_gateway(org, "edge-new", "env=prod"),  # never reported its components
    }


@pytest.fixture
def editor(org):
    user = make_user("eddie")
    set_membership(org, user, Role.EDITOR)
    return user


@pytest.fixture
def admin(org):
    user = make_user("ada")
    set_membership(org, user, Role.ADMIN)
    return user


def deploy(org, user, version, gateways, **params):
    return create_deployment(org, template_version=version, selector_gateways=gateways, user=user, now=NOW, **params)


def test_it_refuses_targets_lacking_components_with_the_gateways_and_what_they_lack(org, alice, version, fleet):
    with pytest.raises(target_check.TargetsRefused) as refused:
        deploy(org, alice, version, list(fleet.values()))
    assert refused.value.messages == [
        "edge v1 cannot run on 1 of the 3 target gateways: it lacks components the config uses.",
        "edge-small lacks exporter debug, exporter otlp.",
    ]
    assert refused.value.check.missing == [
        {
            "gateway": str(fleet["small"].pk),
            "gateway_name": "edge-small",
            "missing": ["exporter debug", "exporter otlp"],
        }
    ]
    assert not Deployment.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="deployment.").exists()


def test_the_forms_check_refuses_the_same(org, alice, version, fleet):
    with pytest.raises(target_check.TargetsRefused):
        check_deployment(org, template_version=version, selector_gateways=[fleet["small"]], user=alice)


def test_the_organizations_extra_components_count_as_available(org, alice, version, fleet):
    org_settings = get_org_settings(org)
    org_settings.extra_allowed_components = ["debug", "otlp"]
    org_settings.save()
    deployment = deploy(org, alice, version, [fleet["small"]])
    assert (deployment.status, deployment.forced) == (DeploymentStatus.VALIDATING, False)


def test_gateways_that_never_reported_are_checked_against_the_catalogue_and_named(org, alice, version, fleet):
    deployment = deploy(org, alice, version, [fleet["ok"], fleet["new"]])
    assert deployment.validation["unreported"] == ["edge-new"]
    assert deployment.validation["ok"] is True
    deployment = target_check.validate(deployment.pk, now=at(1))
    assert deployment.status == DeploymentStatus.ROLLING_OUT
    validated = deployment.events.get(kind="validated")
    assert "1 gateway never reported its components (edge-new)" in validated.message


def test_an_admin_may_force_it_and_it_is_audited(org, admin, version, fleet):
    deployment = deploy(org, admin, version, [fleet["ok"], fleet["small"]], force=True)
    assert (deployment.status, deployment.forced) == (DeploymentStatus.VALIDATING, True)
    entry = AuditLog.objects.get(action="deployment.forced")
    assert entry.actor_user == admin
    assert entry.changes["missing"] == {"edge-small": ["exporter debug", "exporter otlp"]}
    # The validating task does not refuse what an admin forced; the timeline says it was forced.
    deployment = target_check.validate(deployment.pk, now=at(1))
    assert deployment.status == DeploymentStatus.ROLLING_OUT
    assert deployment.events.get(kind="validated").message.startswith("Validated with force: edge v1 cannot run on 1")


def test_an_editor_may_not_force(org, editor, version, fleet):
    with pytest.raises(PermissionDenied, match="Only an admin or owner of Acme"):
        deploy(org, editor, version, [fleet["small"]], force=True)
    with pytest.raises(PermissionDenied):  # even with nothing to override: the request is wrong
        deploy(org, editor, version, [fleet["ok"]], force=True)
    assert not Deployment.objects.exists()


def test_force_with_nothing_to_override_is_not_recorded_as_forced(org, alice, version, fleet):
    deployment = deploy(org, alice, version, [fleet["ok"]], force=True)
    assert deployment.forced is False
    assert not AuditLog.objects.filter(action="deployment.forced").exists()


def test_a_new_deployment_waits_validating_with_nothing_sent(org, alice, version, fleet):
    deployment = deploy(org, alice, version, [fleet["ok"]])
    assert (deployment.status, deployment.started_at, deployment.current_batch) == ("validating", None, None)
    assert Gateway.objects.get(pk=fleet["ok"].pk).desired_config_hash == ""


def test_the_validating_task_starts_the_rollout(org, alice, version, fleet):
    deployment = deploy(org, alice, version, [fleet["ok"]])
    assert tasks.validate_deployment.apply((str(deployment.pk),)).get() == DeploymentStatus.ROLLING_OUT
    deployment.refresh_from_db()
    assert (deployment.started_at is not None, deployment.validated_at is not None) == (True, True)
    assert list(deployment.events.values_list("kind", flat=True)) == ["validated", "started"]
    # ...and its first tick, queued after the commit, sends the config.


def test_the_validating_task_refuses_targets_that_lost_components_since(org, alice, version, fleet):
    deployment = deploy(org, alice, version, [fleet["ok"]])
    Gateway.objects.filter(pk=fleet["ok"].pk).update(available_components=NO_OTLP_OUT)  # rebuilt without them
    deployment = target_check.validate(deployment.pk, now=at(2))
    assert (deployment.status, deployment.finished_at) == (DeploymentStatus.REFUSED, at(2))
    assert deployment.validation["missing"][0]["missing"] == ["exporter debug", "exporter otlp"]
    [target] = deployment.targets.all()
    assert (target.status, target.error) == (TargetStatus.PENDING, "Lacks exporter debug, exporter otlp.")
    refused = deployment.events.get()
    assert refused.kind == "refused"
    assert refused.message.startswith("Refused: edge v1 cannot run on 1 of the 1 target gateway")
    assert refused.data["missing"] == {"edge-ok": ["exporter debug", "exporter otlp"]}
    assert AuditLog.objects.filter(action="deployment.refused").exists()
    assert Gateway.objects.get(pk=fleet["ok"].pk).desired_config_hash == ""  # nothing was sent
    # A refused deployment holds no gateway: another one may target it at once.
    Gateway.objects.filter(pk=fleet["ok"].pk).update(available_components=FULL)
    assert deploy(org, alice, version, [fleet["ok"]]).status == DeploymentStatus.VALIDATING


def test_the_validating_task_leaves_a_cancelled_deployment_alone(org, alice, version, fleet):
    from deployments_app import actions

    deployment = deploy(org, alice, version, [fleet["ok"]])
    actions.cancel(deployment.pk, user=alice)
    assert target_check.validate(deployment.pk).status == DeploymentStatus.CANCELLED
    assert not Deployment.objects.get(pk=deployment.pk).events.filter(kind="validated").exists()


def test_validate_deployments_validates_every_validating_deployment(org, alice, version, fleet):
    first = deploy(org, alice, version, [fleet["ok"]])
    second = deploy(org, alice, make_version(org, name="other", config_yaml=CONFIG), [fleet["new"]])
    assert tasks.validate_deployments.apply().get() == 2
    statuses = set(Deployment.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True))
    assert statuses == {DeploymentStatus.ROLLING_OUT}


def test_without_a_broker_the_request_does_not_validate_and_the_embedded_beat_does(
    org, alice, version, fleet, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        deployment = deploy(org, alice, version, [fleet["ok"]])
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.VALIDATING


def test_with_a_broker_the_validation_is_queued_after_the_commit(
    org, alice, version, fleet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deployment = deploy(org, alice, version, [fleet["ok"]])
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.VALIDATING
    for callback in callbacks:
        callback()  # conftest: validate_deployment.delay runs the task here
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.ROLLING_OUT


def test_the_reconcile_task_queues_again_a_validation_that_was_lost(org, alice, version, fleet):
    deployment = deploy(org, alice, version, [fleet["ok"]])
    assert tasks.reconcile_deployments.apply().get()["revalidated"] == 0  # just created: its task is queued
    Deployment.objects.filter(pk=deployment.pk).update(created_at=NOW - timedelta(minutes=5))
    assert tasks.reconcile_deployments.apply().get()["revalidated"] == 1
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.ROLLING_OUT


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_a_server_without_a_broker_validates_new_deployments_by_itself(org, alice):
    """`make run`'s shape: the embedded beat's validate-deployments entry, not the request, validates."""
    live.test_database_url()  # PostgreSQL: the server process must see this test's rows
    gateway = make_gateway(org, "edge-ok", available_components=FULL)
    deployment = deploy(org, alice, make_version(org, name="edge", config_yaml=CONFIG), [gateway])
    server = Daphne([free_port()], REDIS_URL="", FLOWGATE_EMBEDDED_BEAT="true", FLOWGATE_ROLLOUT_TICK_SECONDS="0.5")
    try:
        server.output.wait_for("embedded beat: no broker", server.process)
        deadline = time.monotonic() + 15
        while Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.VALIDATING:
            assert time.monotonic() < deadline, "still validating after 15 s"
            time.sleep(0.1)
    finally:
        output = server.stop()
    assert "Traceback" not in output
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.ROLLING_OUT


FILELOG_WITHOUT_INCLUDE = """receivers:
  filelog: {}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
service:
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [otlphttp]
"""


@pytest.mark.process
def test_the_validating_task_runs_the_collectors_own_check_and_refuses_even_a_forced_deployment(org, alice, settings):
    """A setting only the collector knows is wrong (filelog without `include`): the deep check refuses it."""
    settings.FLOWGATE_COLLECTOR_BINARY = collector_binary()
    small = reported(receivers=["filelog"])  # lacks the otlphttp exporter: the creation needs force
    gateway = make_gateway(org, "logs-1", available_components=small)
    version = make_version(org, name="logs", config_yaml=FILELOG_WITHOUT_INCLUDE)
    deployment = deploy(org, alice, version, [gateway], force=True)
    deployment = target_check.validate(deployment.pk, now=at(1))
    assert deployment.status == DeploymentStatus.REFUSED
    assert deployment.validation["deep_check"]["status"] == "failed"
    assert "'include' must be specified" in deployment.validation["errors"][0]
    assert "the collector refuses this configuration" in deployment.events.get(kind="refused").message


@pytest.mark.process
def test_the_deep_check_passes_a_config_the_collector_accepts(org, alice, settings):
    settings.FLOWGATE_COLLECTOR_BINARY = collector_binary()  # a small build: filelog in, otlphttp out
    good = FILELOG_WITHOUT_INCLUDE.replace("  filelog: {}", "  filelog:\n    include: [/var/log/*.log]")
    gateway = make_gateway(org, "logs-1", available_components=reported(receivers=["filelog"], exporters=["otlphttp"]))
    version = make_version(org, name="logs", config_yaml=good)
    deployment = target_check.validate(deploy(org, alice, version, [gateway]).pk, now=at(1))
    assert (deployment.status, deployment.validation["deep_check"]["status"]) == ("rolling_out", "passed")
