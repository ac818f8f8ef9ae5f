"""The periodic reconciliation, the tick chain's booking and the Celery tasks (eager here)."""

import pytest

from core_app.models import Strategy
from deployments_app import reconciliation, tasks
from deployments_app.models import Deployment, DeploymentStatus
from gateways_app.models import Gateway, GatewayStatus
from opamp_app import push
from opamp_core.proto import opamp_pb2
from tests.deployments_app.engine import at, deploy, make_fleet, new_version, report_sent, tick

ACCEPTS = opamp_pb2.AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig


@pytest.fixture
def fleet(org):
    return make_fleet(org, 3)


@pytest.fixture
def new(org):
    return new_version(org)


@pytest.fixture
def queued(monkeypatch):
    """Ticks reconcile() queues, recorded instead of run."""
    calls = []
    monkeypatch.setattr(tasks.advance_rollout, "delay", lambda deployment_id: calls.append(deployment_id))
    return calls


@pytest.fixture
def pushed(monkeypatch):
    """Gateways whose config reconcile() pushes again, recorded instead of sent."""
    calls = []
    monkeypatch.setattr(push, "notify_config_changed", lambda ids: calls.append(sorted(ids)) or len(ids))
    return calls


def test_it_finishes_a_deployment_whose_targets_all_settled(org, alice, new, fleet, queued, pushed):
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    report_sent(deployment, new)
    summary = reconciliation.reconcile(now=at(10))
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.SUCCEEDED
    assert (summary["ticked"], summary["finished"], summary["restarted"]) == (1, 1, 0)


def test_it_restarts_the_ticks_of_a_deployment_whose_next_tick_is_overdue(
    org, alice, new, fleet, queued, pushed, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker and workers
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    Deployment.objects.filter(pk=deployment.pk).update(next_tick_at=at(2))  # its worker died at 0
    reconciliation.reconcile(now=at(60))
    assert queued == [str(deployment.pk)]


def test_without_a_broker_it_ticks_but_restarts_no_chain(org, alice, new, fleet, queued, pushed, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded defaults: the server's embedded beat ticks
    deployment = tick(deploy(org, alice, new, fleet, **{"strategy": Strategy.ROLLING, "batch_size": 1}), 0)
    summary = reconciliation.reconcile(now=at(60))
    assert (summary["ticked"], summary["restarted"], queued) == (1, 0, [])
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.ROLLING_OUT


def test_it_leaves_a_live_tick_chain_alone(org, alice, new, fleet, queued, pushed):
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    Deployment.objects.filter(pk=deployment.pk).update(next_tick_at=at(61))
    reconciliation.reconcile(now=at(60))
    assert queued == []


def test_it_ignores_paused_and_finished_deployments(org, alice, new, fleet, queued, pushed):
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.PAUSED)
    assert reconciliation.reconcile(now=at(60))["ticked"] == 0
    assert queued == []


def test_it_pushes_again_the_desired_config_of_connected_gateways_reporting_another_hash(org, fleet, pushed):
    Gateway.objects.update(capabilities=ACCEPTS, desired_config_hash="b" * 64, desired_config="new: 1\n")
    drifted, offline, in_sync = fleet
    Gateway.objects.filter(pk=offline.pk).update(status=GatewayStatus.OFFLINE)
    Gateway.objects.filter(pk=in_sync.pk).update(remote_config_hash="b" * 64)
    assert reconciliation.reconcile()["resent"] == 1
    assert pushed == [[drifted.pk]]


def test_it_does_not_push_to_gateways_that_do_not_accept_remote_config(org, fleet, pushed):
    Gateway.objects.update(capabilities=0, desired_config_hash="b" * 64, desired_config="new: 1\n")
    reconciliation.reconcile()
    assert pushed == [[]]


def test_a_tick_chain_books_the_next_tick_once(org, alice, new, fleet, settings):
    settings.FLOWGATE_ROLLOUT_TICK_SECONDS = 2
    deployment = deploy(org, alice, new, fleet)
    assert reconciliation.claim_next_tick(deployment.pk, now=at(0)) is True
    # A second chain ticking one second later finds the next tick booked: it stops.
    assert reconciliation.claim_next_tick(deployment.pk, now=at(1)) is False
    # The booked tick itself (at 2) books the following one.
    assert reconciliation.claim_next_tick(deployment.pk, now=at(2)) is True
    assert Deployment.objects.get(pk=deployment.pk).next_tick_at == at(4)


def test_a_finished_deployment_books_no_tick(org, alice, new, fleet):
    deployment = deploy(org, alice, new, fleet)
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.SUCCEEDED)
    assert reconciliation.claim_next_tick(deployment.pk, now=at(0)) is False


def test_the_advance_rollout_task_runs_one_tick(org, alice, new, fleet):
    deployment = deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE)
    assert tasks.advance_rollout.delay(str(deployment.pk)).get() == "rolling_out"
    assert set(deployment.targets.values_list("status", flat=True)) == {"sent"}
    # Eager mode: no chain of later ticks (they would run at once, recursively).
    assert Deployment.objects.get(pk=deployment.pk).next_tick_at is None


def test_the_reconcile_task_reports_what_it_did(org, alice, new, fleet, pushed):
    deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE)
    result = tasks.reconcile_deployments.delay().get()
    assert result["ticked"] == 1


def test_the_advance_rollout_task_of_a_deleted_deployment_does_nothing(db):
    assert tasks.advance_rollout.delay("00000000-0000-0000-0000-000000000000").get() is None
