"""One broken deployment never stalls the others: each is reconciled on its own; vanished targets end it."""

import logging

import pytest

from core_app.models import Strategy
from deployments_app import reconciliation, rollout, tasks
from deployments_app.models import Deployment, DeploymentStatus, EventKind
from gateways_app.models import Gateway
from opamp_app import push
from tests.deployments_app.conftest import make_version
from tests.deployments_app.engine import NEW, at, deploy, make_fleet, new_version, tick


@pytest.fixture(autouse=True)
def no_side_effects(monkeypatch):
    """Tick chains reconcile() restarts and configs it pushes again: counted, not run (no worker, no server)."""
    monkeypatch.setattr(tasks.advance_rollout, "delay", lambda deployment_id: None)
    monkeypatch.setattr(push, "notify_config_changed", lambda ids: len(ids))


@pytest.fixture
def orphan(org, alice):
    """A deployment sent to its only gateway, which was then deleted (with its target)."""
    gateway = make_fleet(org, 1)[0]
    deployment = tick(deploy(org, alice, new_version(org), [gateway], strategy=Strategy.ALL_AT_ONCE), 0)
    gateway.delete()
    return deployment


@pytest.fixture
def globex_deployment(other_org, charlie):
    gateways = make_fleet(other_org, 2)
    version = make_version(other_org, name="globex-edge", config_yaml=NEW)
    return deploy(other_org, charlie, version, gateways, strategy=Strategy.ALL_AT_ONCE)


def test_a_deployment_whose_targets_were_all_deleted_fails_with_the_reason(orphan):
    summary = reconciliation.reconcile(now=at(10))
    orphan.refresh_from_db()
    assert orphan.status == DeploymentStatus.FAILED
    assert orphan.finished_at == at(10)
    last = orphan.events.last()
    assert (last.kind, last.message) == (
        EventKind.STOPPED,
        "Stopped: All targets were deleted (their gateways no longer exist).",
    )
    assert (summary["finished"], summary["failed"]) == (1, 0)


def test_a_deployment_whose_gateways_were_deleted_before_its_first_batch_fails_too(org, alice):
    gateway = make_fleet(org, 1)[0]
    deployment = deploy(org, alice, new_version(org), [gateway], strategy=Strategy.ALL_AT_ONCE)
    gateway.delete()
    assert tick(deployment, 0).status == DeploymentStatus.FAILED


def test_a_canary_deployment_whose_canaries_were_deleted_stops_instead_of_waiting(org, alice):
    gateways = make_fleet(org, 3)
    deployment = deploy(org, alice, new_version(org), gateways, strategy=Strategy.CANARY, canary_count=1)
    canary = tick(deployment, 0).targets.get(batch=0).gateway
    Gateway.objects.filter(pk=canary.pk).delete()
    deployment = tick(deployment, 5)
    assert deployment.status == DeploymentStatus.FAILED
    assert (
        deployment.events.get(kind=EventKind.STOPPED).message
        == "Stopped: Every canary target was deleted (their gateways no longer exist)."
    )


def test_a_deployment_whose_reconcile_fails_does_not_stop_another_orgs(orphan, globex_deployment, monkeypatch, caplog):
    advance = rollout.advance

    def broken_for_acme(deployment_id, now=None):
        if deployment_id == orphan.pk:
            raise RuntimeError("simulated: this deployment cannot be ticked")
        return advance(deployment_id, now=now)

    monkeypatch.setattr(rollout, "advance", broken_for_acme)
    with caplog.at_level(logging.ERROR, logger="deployments_app.reconciliation"):
        summary = reconciliation.reconcile(now=at(10))
    assert (summary["ticked"], summary["failed"]) == (1, 1)
    # Globex's deployment got its tick: its batch was sent.
    assert set(globex_deployment.targets.values_list("status", flat=True)) == {"sent"}
    assert Deployment.objects.get(pk=orphan.pk).status == DeploymentStatus.ROLLING_OUT
    assert str(orphan.pk) in caplog.text and "simulated" in caplog.text


def test_the_embedded_beat_ticks_the_other_deployments_when_one_fails(orphan, globex_deployment, monkeypatch):
    apply = tasks.advance_rollout.apply

    def broken_for_globex(args):
        if args[0] == str(globex_deployment.pk):  # the newest: ticked first
            raise RuntimeError("simulated: this deployment cannot be ticked")
        return apply(args)

    monkeypatch.setattr(tasks.advance_rollout, "apply", broken_for_globex)
    assert tasks.tick_rollouts() == 2
    assert Deployment.objects.get(pk=orphan.pk).status == DeploymentStatus.FAILED
