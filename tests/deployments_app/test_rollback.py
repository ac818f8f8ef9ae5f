"""Honest rollbacks (deployments_app.rollback; issue 13, point 2).

A rollback only claims what it did: targets with a previous config get it back and are watched
until their gateways report it applied; targets with none keep the version (or the rollback is
refused when nothing could return); desired and reported state stay consistent, so drift is true.
"""

import pytest

from core_app.models import AuditLog, Strategy
from deployments_app import actions, reconciliation, target_check, tasks
from deployments_app.models import Deployment, DeploymentStatus, EventKind
from gateways_app.models import Gateway, GatewayStatus
from templates_app.models import sha256_of
from tests.deployments_app.components import CONFIG, FULL, NO_OTLP_OUT
from tests.deployments_app.conftest import make_gateway, make_version
from tests.deployments_app.engine import (
    FAILED,
    OLD,
    at,
    deploy,
    desired,
    make_fleet,
    new_version,
    report,
    report_sent,
    set_status,
    states,
    tick,
)

pytestmark = pytest.mark.django_db


class Old:
    """What a gateway reports once it applied its previous config again (report() takes a version)."""

    sha256 = sha256_of(OLD)


def fresh_gateways(org, *names):
    """Connected gateways that were never given a config: a template's first deployment finds them so."""
    return [make_gateway(org, name, status=GatewayStatus.ONLINE) for name in names]


def rollbacks(deployment):
    return dict(deployment.targets.values_list("gateway__name", "rollback"))


def succeeded(org, alice, version, gateways):
    deployment = tick(deploy(org, alice, version, gateways, strategy=Strategy.ALL_AT_ONCE), 0)
    report_sent(deployment, version)
    deployment = tick(deployment, 5)
    assert deployment.status == DeploymentStatus.SUCCEEDED
    return deployment


@pytest.fixture
def new(org):
    return new_version(org)


def test_rolling_back_a_first_deployment_is_refused_and_changes_nothing(org, alice, new):
    """The issue's case: it cleared the desired config, said "1 target(s) got their previous config back"
    while the gateway still ran the new config, and drift showed 0."""
    deployment = succeeded(org, alice, new, fresh_gateways(org, "gw-01"))
    events = deployment.events.count()
    with pytest.raises(actions.TransitionRefused) as refused:
        actions.roll_back(deployment.pk, user=alice, now=at(60))
    assert str(refused.value) == (
        "Nothing to roll back to: 1 target(s) had no config before this deployment and keep version 1 (gw-01): "
        "OpAMP cannot take a config back; deploy another version to replace it."
    )
    deployment = Deployment.objects.get(pk=deployment.pk)
    assert (deployment.status, deployment.events.count()) == (DeploymentStatus.SUCCEEDED, events)
    gateway = Gateway.objects.get(name="gw-01")
    # What it should run is what it runs: no drift, and none hidden.
    assert (gateway.desired_config_hash, gateway.remote_config_hash) == (new.sha256, new.sha256)
    assert rollbacks(deployment) == {"gw-01": ""}
    assert not AuditLog.objects.filter(action="deployment.rollback_started").exists()


def test_a_rollback_returns_the_targets_that_had_a_config_and_says_which_keep_the_version(org, alice, new):
    gateways = [*make_fleet(org, 2), *fresh_gateways(org, "gw-03")]
    deployment = succeeded(org, alice, new, gateways)
    actions.roll_back(deployment.pk, user=alice, now=at(60))
    deployment = Deployment.objects.get(pk=deployment.pk)
    assert deployment.status == DeploymentStatus.ROLLING_BACK
    assert desired(deployment) == {"gw-01": "old", "gw-02": "old", "gw-03": "new"}
    assert rollbacks(deployment) == {"gw-01": "returning", "gw-02": "returning", "gw-03": "kept"}
    message = (
        "Rolled back by alice: 2 target(s) are returning to their previous config; 1 had no previous config "
        "and keep version 1 (deploy another version to replace it)."
    )
    started = deployment.events.get(kind=EventKind.ROLLBACK_STARTED)
    assert (started.message, started.count, started.data["kept"]) == (message, 2, ["gw-03"])
    entry = AuditLog.objects.get(action="deployment.rollback_started")
    assert (entry.actor_user, entry.changes["message"], entry.changes["returning"]) == (
        alice,
        message,
        ["gw-01", "gw-02"],
    )


def test_returning_targets_are_watched_until_their_gateways_apply_the_previous_config(org, alice, new):
    deployment = succeeded(org, alice, new, make_fleet(org, 3))
    actions.roll_back(deployment.pk, user=alice, now=at(60))
    # Pushed, not applied yet: nobody claims it is back.
    assert tick(deployment, 61).status == DeploymentStatus.ROLLING_BACK
    report(["gw-01"], Old)
    report(["gw-02"], Old, FAILED, "exporter otlp: connection refused")
    deployment = tick(deployment, 62)
    assert deployment.status == DeploymentStatus.ROLLING_BACK
    assert rollbacks(deployment) == {"gw-01": "restored", "gw-02": "failed", "gw-03": "returning"}
    assert deployment.targets.get(gateway__name="gw-02").rollback_error == "exporter otlp: connection refused"
    deployment = tick(deployment, 60 + 301)  # gw-03 says nothing within the apply timeout (300 s)
    assert (deployment.status, deployment.finished_at) == (DeploymentStatus.ROLLED_BACK, at(361))
    assert deployment.targets.get(gateway__name="gw-03").rollback_error == (
        "No report of its previous config within 300 s."
    )
    assert deployment.events.last().message == (
        "Rolled back: 1 target(s) run their previous config again; 2 did not get it back."
    )
    assert set(states(deployment).values()) == {"applied"}  # how the rollout went, unchanged
    progress = Deployment.objects.with_progress().get(pk=deployment.pk)
    assert (progress.progress_rolled_back, progress.progress_returning) == (1, 0)


def test_an_offline_gateway_is_given_its_previous_config_when_it_reconnects(org, alice, new):
    deployment = succeeded(org, alice, new, make_fleet(org, 1))
    set_status(GatewayStatus.OFFLINE, "gw-01")
    actions.roll_back(deployment.pk, user=alice, now=at(60))
    deployment = tick(deployment, 60 + 1000)  # no timeout while it is away: it has not been sent anything
    assert rollbacks(deployment) == {"gw-01": "returning"}
    set_status(GatewayStatus.ONLINE, "gw-01")
    tick(deployment, 1100)
    report(["gw-01"], Old)
    deployment = tick(deployment, 1101)
    assert (deployment.status, rollbacks(deployment)) == (DeploymentStatus.ROLLED_BACK, {"gw-01": "restored"})


def test_an_automatic_rollback_with_nothing_to_return_to_leaves_the_deployment_failed(org, alice, new):
    gateways = fresh_gateways(org, "gw-01", "gw-02")
    deployment = tick(deploy(org, alice, new, gateways, strategy=Strategy.ALL_AT_ONCE, failure_threshold_count=0), 0)
    report(["gw-01"], new, FAILED, "unknown exporter")
    report(["gw-02"], new)
    deployment = tick(deployment, 5)
    assert (deployment.status, deployment.outcome) == (DeploymentStatus.FAILED, "failed")
    assert desired(deployment) == {"gw-01": "new", "gw-02": "new"}  # never cleared behind the operator's back
    # Drift tells the truth: gw-01 refused the version it should run (it runs what it ran before).
    assert list(Gateway.objects.drifted().values_list("name", flat=True)) == ["gw-01"]
    assert [gateway.has_config_drift() for gateway in Gateway.objects.order_by("name")] == [True, False]
    assert rollbacks(deployment) == {"gw-01": "kept", "gw-02": "kept"}
    assert deployment.events.last().message.startswith(
        "Rolled back automatically: not possible. Nothing to roll back to: 2 target(s) had no config before"
    )
    with pytest.raises(actions.TransitionRefused, match=r"2 target\(s\) had no config before .* \(gw-01, gw-02\)"):
        actions.roll_back(deployment.pk, user=alice, now=at(10))  # asking again says the same


def test_a_never_sent_target_without_a_previous_config_has_the_version_withdrawn(org, alice, new):
    gateways = [*make_fleet(org, 1), *fresh_gateways(org, "gw-02")]
    set_status(GatewayStatus.OFFLINE, "gw-02")
    deployment = tick(deploy(org, alice, new, gateways, strategy=Strategy.ALL_AT_ONCE), 0)
    actions.roll_back(deployment.pk, user=alice, now=at(5))
    deployment = Deployment.objects.get(pk=deployment.pk)
    # It never got the version: clearing its desired config again is the truth, and nothing is pushed to it.
    assert desired(deployment) == {"gw-01": "old", "gw-02": ""}
    assert rollbacks(deployment) == {"gw-01": "returning", "gw-02": "withdrawn"}
    assert "1 never sent (gateway offline) had it withdrawn" in deployment.events.last().message


def test_the_api_refuses_a_rollback_with_nothing_to_return_to(org, alice, new, api_client):
    deployment = succeeded(org, alice, new, fresh_gateways(org, "gw-01"))
    response = api_client.post(f"/api/v1/deployments/{deployment.pk}/rollback/")
    assert response.status_code == 409
    assert "had no config before this deployment and keep version 1 (gw-01)" in response.data["detail"]


def test_the_embedded_beat_ticks_a_rolling_back_deployment(org, alice, new):
    """Without a broker the server's beat (tasks.tick_rollouts) is what watches the returning targets."""
    deployment = succeeded(org, alice, new, make_fleet(org, 2))
    actions.roll_back(deployment.pk, user=alice, now=at(60))
    report(["gw-01", "gw-02"], Old)
    assert tasks.tick_rollouts() == 1
    deployment = Deployment.objects.get(pk=deployment.pk)
    assert (deployment.status, rollbacks(deployment)) == ("rolled_back", {"gw-01": "restored", "gw-02": "restored"})


def test_reconcile_ticks_a_rolling_back_deployment(org, alice, new):
    deployment = succeeded(org, alice, new, make_fleet(org, 2))
    actions.roll_back(deployment.pk, user=alice, now=at(60))
    report(["gw-01", "gw-02"], Old)
    counts = reconciliation.reconcile(now=at(61))
    assert (counts["ticked"], counts["finished"]) == (1, 1)
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.ROLLED_BACK


def test_rolling_back_to_a_version_a_gateway_ran_is_not_refused_by_the_component_check(org, alice):
    """The check against the targets (issue 13, point 1) must not block a rollback to a known-good config."""
    gateways = [make_gateway(org, "edge-1", status=GatewayStatus.ONLINE, available_components=FULL)]
    v1 = make_version(org, name="edge", config_yaml=CONFIG)
    v2 = make_version(org, name="edge", config_yaml=CONFIG + "# v2\n", number=2)
    for version in (v1, v2):
        deployment = tick(deploy(org, alice, version, gateways, strategy=Strategy.ALL_AT_ONCE), 0)
        report_sent(deployment, version)
        assert tick(deployment, 5).status == DeploymentStatus.SUCCEEDED
    # Its collector now reports fewer components: a config it never ran is refused…
    Gateway.objects.update(available_components=NO_OTLP_OUT)
    v3 = make_version(org, name="edge", config_yaml=CONFIG + "# v3\n", number=3)
    with pytest.raises(target_check.TargetsRefused):
        deploy(org, alice, v3, gateways)
    # …but going back to v1, which it applied, is not.
    deployment = actions.roll_back_to_version(v1, user=alice, now=at(100))
    assert target_check.validate(deployment.pk, now=at(101)).status == DeploymentStatus.ROLLING_OUT
