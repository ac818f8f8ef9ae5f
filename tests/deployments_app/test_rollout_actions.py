"""Operator actions (deployments_app.actions): pause, resume, cancel, roll back now, roll back to a version."""

import pytest

from core_app.models import AuditLog, Strategy
from deployments_app import actions
from deployments_app.models import Deployment, DeploymentStatus
from gateways_app.models import Gateway, GatewayStatus
from templates_app.models import sha256_of
from tests.deployments_app.conftest import make_gateway, make_version
from tests.deployments_app.engine import (
    NEW,
    OLD,
    at,
    deploy,
    desired,
    kinds,
    make_fleet,
    new_version,
    report,
    report_sent,
    set_status,
    states,
    tick,
)

ROLLING = {"strategy": Strategy.ROLLING, "batch_size": 2}


@pytest.fixture
def fleet(org):
    return make_fleet(org, 5)


@pytest.fixture
def new(org):
    return new_version(org)


@pytest.fixture
def rolling(org, alice, new, fleet):
    """A rolling deployment whose batch 0 (gw-01, gw-02) was sent at 0."""
    return tick(deploy(org, alice, new, fleet, **ROLLING), 0)


def refresh(deployment):
    return Deployment.objects.get(pk=deployment.pk)


def test_pause_stops_the_rollout_until_resumed(rolling, alice, new):
    actions.pause(rolling.pk, user=alice, now=at(1))
    report_sent(rolling, new)
    deployment = tick(rolling, 10)
    assert deployment.status == DeploymentStatus.PAUSED
    assert states(deployment)["gw-01"] == "sent"  # not even reports are taken in while paused
    assert deployment.events.last().message == "Paused by alice."


def test_resume_goes_on_from_where_the_rollout_stood(rolling, alice, new):
    actions.pause(rolling.pk, user=alice, now=at(1))
    report_sent(rolling, new)
    actions.resume(rolling.pk, user=alice, now=at(20))
    deployment = tick(rolling, 20)
    assert states(deployment)["gw-01"] == "applied"
    assert states(deployment)["gw-03"] == "sent"
    assert kinds(deployment)[3:5] == ["paused", "resumed"]


def test_resume_queues_a_tick_after_the_commit(rolling, alice, django_capture_on_commit_callbacks):
    actions.pause(rolling.pk, user=alice, now=at(1))
    with django_capture_on_commit_callbacks() as callbacks:
        actions.resume(rolling.pk, user=alice, now=at(2))
    assert len(callbacks) == 1


def test_pause_and_resume_are_audited_with_the_operator(rolling, alice):
    actions.pause(rolling.pk, user=alice, now=at(1))
    actions.resume(rolling.pk, user=alice, now=at(2))
    actors = dict(
        AuditLog.objects.filter(action__in=["deployment.paused", "deployment.resumed"]).values_list(
            "action", "actor_name"
        )
    )
    assert actors == {"deployment.paused": "alice", "deployment.resumed": "alice"}


@pytest.mark.parametrize(
    "status, operation, message",
    [
        ("paused", actions.pause, "Only a rolling-out deployment can be paused; this one is paused."),
        ("succeeded", actions.pause, "Only a rolling-out deployment can be paused; this one is succeeded."),
        ("rolling_out", actions.resume, "Only a paused deployment can be resumed; this one is rolling out."),
        ("cancelled", actions.resume, "Only a paused deployment can be resumed; this one is cancelled."),
        ("succeeded", actions.cancel, "This deployment has already finished (succeeded): nothing to cancel."),
        ("rolled_back", actions.cancel, "This deployment has already finished (rolled back): nothing to cancel."),
        ("rolled_back", actions.roll_back, "This deployment has already been rolled back."),
        ("rolling_back", actions.roll_back, "This deployment has already been rolled back."),
        ("rolling_back", actions.cancel, "This deployment is rolling back: nothing to cancel."),
        ("refused", actions.roll_back, "This deployment was refused: nothing was sent to roll back."),
        ("pending", actions.roll_back, "Nothing has been sent yet: cancel this deployment instead."),
    ],
)
def test_it_refuses_an_action_the_status_does_not_allow(rolling, alice, status, operation, message):
    Deployment.objects.filter(pk=rolling.pk).update(status=status)
    events = rolling.events.count()
    with pytest.raises(actions.TransitionRefused) as refused:
        operation(rolling.pk, user=alice, now=at(5))
    assert str(refused.value) == message
    assert (refresh(rolling).status, rolling.events.count()) == (status, events)


def test_cancel_keeps_delivered_configs_and_gives_waiting_targets_their_previous_config(org, alice, new, fleet):
    set_status(GatewayStatus.OFFLINE, "gw-02")
    deployment = tick(deploy(org, alice, new, fleet, **ROLLING), 0)
    actions.cancel(deployment.pk, user=alice, now=at(5))
    deployment = refresh(deployment)
    assert (deployment.status, deployment.finished_at) == (DeploymentStatus.CANCELLED, at(5))
    assert desired(deployment) == {"gw-01": "new", "gw-02": "old", "gw-03": "old", "gw-04": "old", "gw-05": "old"}
    errors = dict(deployment.targets.values_list("gateway__name", "error"))
    assert errors["gw-02"] == "Not sent: cancelled while its gateway was offline."
    assert errors["gw-03"] == "Not sent: the deployment was cancelled."
    assert deployment.events.last().message == (
        "Cancelled by alice: 4 target(s) were never sent (1 waiting offline got their previous config back)."
    )


def test_cancel_first_takes_in_what_the_gateways_reported(rolling, alice, new):
    report(["gw-01"], new)
    actions.cancel(rolling.pk, user=alice, now=at(5))
    assert states(rolling)["gw-01"] == "applied"


def test_cancel_of_a_paused_deployment_ends_it(rolling, alice):
    actions.pause(rolling.pk, user=alice, now=at(1))
    actions.cancel(rolling.pk, user=alice, now=at(2))
    assert refresh(rolling).status == DeploymentStatus.CANCELLED


def test_roll_back_now_gives_a_succeeded_deployments_targets_their_previous_config(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    report_sent(deployment, new)
    assert tick(deployment, 5).status == DeploymentStatus.SUCCEEDED
    actions.roll_back(deployment.pk, user=alice, now=at(60))
    deployment = refresh(deployment)
    assert (deployment.status, deployment.outcome, deployment.finished_at) == ("rolling_back", "succeeded", None)
    assert set(desired(deployment).values()) == {"old"}
    assert set(states(deployment).values()) == {"applied"}
    assert set(deployment.targets.values_list("rollback", flat=True)) == {"returning"}
    assert deployment.events.last().message == (
        "Rolled back by alice: 5 target(s) are returning to their previous config."
    )


def test_roll_back_now_of_a_rolling_deployment_leaves_unsent_targets_alone(rolling, alice):
    actions.roll_back(rolling.pk, user=alice, now=at(5))
    assert states(rolling) == {
        "gw-01": "sent",
        "gw-02": "sent",
        "gw-03": "pending",
        "gw-04": "pending",
        "gw-05": "pending",
    }
    rollbacks = dict(rolling.targets.values_list("gateway__name", "rollback"))
    assert rollbacks == {"gw-01": "returning", "gw-02": "returning", "gw-03": "", "gw-04": "", "gw-05": ""}
    assert refresh(rolling).outcome == "rolled_back"  # stopped by an operator before it ended
    assert set(desired(rolling).values()) == {"old"}


def test_roll_back_to_a_version_deploys_it_to_the_gateways_on_other_versions(org, alice):
    v1 = make_version(org, name="edge", config_yaml=OLD, number=1)
    make_version(org, name="edge", config_yaml=NEW, number=2)
    on_v2 = [make_gateway(org, name, desired_config=NEW, desired_config_hash=sha256_of(NEW)) for name in ("a", "b")]
    make_gateway(org, "on-v1", desired_config=OLD, desired_config_hash=sha256_of(OLD))
    make_gateway(org, "elsewhere", desired_config="x: 1\n", desired_config_hash=sha256_of("x: 1\n"))
    deployment = actions.roll_back_to_version(v1, user=alice, strategy=Strategy.ALL_AT_ONCE)
    assert deployment.template_version == v1
    assert sorted(deployment.targets.values_list("gateway__name", flat=True)) == ["a", "b"]
    assert list(deployment.selector_gateways.all()) == on_v2
    entry = AuditLog.objects.get(action="template.rolled_back")
    assert entry.changes == {"to_version": 1, "deployment": str(deployment.pk), "target_count": 2}


def test_roll_back_to_a_version_refuses_when_no_gateway_runs_another_version(org, alice):
    v1 = make_version(org, name="edge", config_yaml=OLD, number=1)
    make_version(org, name="edge", config_yaml=NEW, number=2)
    make_gateway(org, "on-v1", desired_config=OLD, desired_config_hash=sha256_of(OLD))
    with pytest.raises(actions.TransitionRefused) as refused:
        actions.roll_back_to_version(v1, user=alice)
    assert str(refused.value) == "No gateway runs another version of edge: there is nothing to roll back."
    assert not Deployment.objects.exists()


def test_roll_back_to_a_version_only_looks_at_its_own_organization(org, other_org, alice):
    v1 = make_version(org, name="edge", config_yaml=OLD, number=1)
    make_version(org, name="edge", config_yaml=NEW, number=2)
    # Same content in another organization: not a gateway of this template.
    make_gateway(other_org, "globex-gw", desired_config=NEW, desired_config_hash=sha256_of(NEW))
    with pytest.raises(actions.TransitionRefused):
        actions.roll_back_to_version(v1, user=alice)
    assert Gateway.objects.get(name="globex-gw").desired_config == NEW
