"""The rollout engine's tick (deployments_app.rollout.advance) at fixed moments, gateways' reports set directly."""

import pytest

from core_app.models import AuditLog, Strategy
from deployments_app.models import Deployment, DeploymentStatus, EventKind
from gateways_app.models import Gateway, GatewayStatus
from templates_app.models import sha256_of
from tests.deployments_app.engine import (
    FAILED,
    OTHER,
    at,
    deploy,
    desired,
    kinds,
    make_fleet,
    new_version,
    report,
    report_sent,
    sent_at,
    set_status,
    states,
    tick,
)

ROLLING = {"strategy": Strategy.ROLLING, "batch_size": 2}  # five gateways: batches 0, 0, 1, 1, 2


@pytest.fixture
def fleet(org):
    return make_fleet(org, 5)


@pytest.fixture
def new(org):
    return new_version(org)


def test_creating_a_deployment_puts_its_start_on_the_timeline(org, alice, new, fleet):
    deployment = deploy(org, alice, new, fleet, **ROLLING)
    validated, started = deployment.events.all()
    assert validated.kind == "validated"
    assert validated.message.startswith("Validated: every target can run this version. 5 gateways never reported")
    assert (started.kind, started.count, started.message) == (
        "started",
        5,
        "Started: 5 targets in 3 batches (rolling).",
    )
    assert AuditLog.objects.filter(action="deployment.created", actor_user=alice).exists()
    # The validating task started it, not alice's request.
    assert AuditLog.objects.filter(action="deployment.started", actor_user=None).exists()


def test_the_first_tick_sends_batch_0_and_nothing_else(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, **ROLLING), 0)
    assert states(deployment) == {
        "gw-01": "sent",
        "gw-02": "sent",
        "gw-03": "pending",
        "gw-04": "pending",
        "gw-05": "pending",
    }
    assert desired(deployment) == {"gw-01": "new", "gw-02": "new", "gw-03": "old", "gw-04": "old", "gw-05": "old"}
    assert sent_at(deployment) == {"gw-01": 0, "gw-02": 0}
    assert deployment.current_batch == 0


def test_all_at_once_sends_every_target_then_succeeds_once_all_applied(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    assert set(states(deployment).values()) == {"sent"}
    report_sent(deployment, new)
    deployment = tick(deployment, 5)
    assert (deployment.status, deployment.finished_at) == (DeploymentStatus.SUCCEEDED, at(5))
    assert set(states(deployment).values()) == {"applied"}
    assert kinds(deployment) == ["validated", "started", "batch_started", "applied", "gate_passed", "succeeded"]


def test_rolling_sends_the_batches_in_order_each_once_the_previous_applied(org, alice, new, fleet):
    deployment = deploy(org, alice, new, fleet, **ROLLING)
    for second in (0, 10, 20):
        deployment = tick(deployment, second)
        tick(deployment, second + 1)  # no report yet: the next batch waits
        report_sent(deployment, new)
    deployment = tick(deployment, 30)
    assert sent_at(deployment) == {"gw-01": 0, "gw-02": 0, "gw-03": 10, "gw-04": 10, "gw-05": 20}
    batches = [event.data["batch"] for event in deployment.events.filter(kind=EventKind.BATCH_STARTED)]
    assert batches == [0, 1, 2]
    assert deployment.status == DeploymentStatus.SUCCEEDED


def test_canary_goes_first_then_the_rest_in_batches(org, alice, new, fleet):
    deployment = deploy(org, alice, new, fleet, strategy=Strategy.CANARY, canary_count=1, batch_size=2)
    deployment = tick(deployment, 0)
    assert sent_at(deployment) == {"gw-01": 0}
    report_sent(deployment, new)
    deployment = tick(deployment, 10)
    assert sent_at(deployment) == {"gw-01": 0, "gw-02": 10, "gw-03": 10}
    report_sent(deployment, new)
    deployment = tick(deployment, 20)
    assert sent_at(deployment)["gw-05"] == 20


def test_the_gate_waits_for_the_health_window_after_the_apply(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, health_window_seconds=60, **ROLLING), 0)
    report_sent(deployment, new)
    tick(deployment, 10)  # applied at 10: healthy until 70 to pass
    assert states(tick(deployment, 69))["gw-03"] == "pending"
    deployment = tick(deployment, 70)
    assert states(deployment)["gw-03"] == "sent"
    assert deployment.events.get(kind=EventKind.GATE_PASSED).created_at == at(70)


def test_a_gateway_degraded_within_its_health_window_fails_its_target(org, alice, new, fleet):
    params = {**ROLLING, "health_window_seconds": 60, "failure_threshold_count": 3}
    deployment = tick(deploy(org, alice, new, fleet, **params), 0)
    report_sent(deployment, new)
    tick(deployment, 10)
    set_status(GatewayStatus.DEGRADED, "gw-01")
    deployment = tick(deployment, 30)
    target = deployment.targets.get(gateway__name="gw-01")
    assert (target.status, target.error) == (
        "failed",
        "The gateway was degraded 20 s after applying (health window 60 s).",
    )


def test_a_gateway_degraded_after_its_health_window_keeps_its_target_applied(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, health_window_seconds=60, **ROLLING), 0)
    report_sent(deployment, new)
    tick(deployment, 10)
    set_status(GatewayStatus.DEGRADED, "gw-01")
    assert states(tick(deployment, 70))["gw-01"] == "applied"


def test_rolling_waits_pause_seconds_between_batches(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, pause_seconds=30, **ROLLING), 0)
    report_sent(deployment, new)
    tick(deployment, 10)  # the gate passes at 10: the next batch may start at 40
    assert states(tick(deployment, 39))["gw-03"] == "pending"
    assert sent_at(tick(deployment, 40))["gw-03"] == 40


def test_a_target_without_a_report_fails_after_the_apply_timeout(org, alice, new, fleet):
    params = {**ROLLING, "apply_timeout_seconds": 120, "failure_threshold_count": 3}
    deployment = tick(deploy(org, alice, new, fleet, **params), 0)
    assert states(tick(deployment, 120))["gw-01"] == "sent"
    target = tick(deployment, 121).targets.get(gateway__name="gw-01")
    assert (target.status, target.error) == ("failed", "No report within 120 s.")


def test_a_failed_report_fails_the_target_with_the_agents_error(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, failure_threshold_count=3, **ROLLING), 0)
    report(["gw-01"], new, FAILED, "unknown exporter 'otlphttp/x'")
    deployment = tick(deployment, 5)
    target = deployment.targets.get(gateway__name="gw-01")
    assert (target.status, target.error) == ("failed", "unknown exporter 'otlphttp/x'")
    event = deployment.events.get(kind=EventKind.FAILED)
    assert (event.count, event.data["errors"]) == (1, {"gw-01": "unknown exporter 'otlphttp/x'"})


def test_failures_under_the_threshold_do_not_stop_the_rollout(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, failure_threshold_count=1, **ROLLING), 0)
    report(["gw-01"], new, FAILED)
    report(["gw-02"], new)
    deployment = tick(deployment, 5)
    assert deployment.status == DeploymentStatus.ROLLING_OUT
    assert states(deployment)["gw-03"] == "sent"  # a failed target does not hold its batch's gate


def test_past_the_threshold_it_stops_and_rolls_back_the_changed_targets_only(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, failure_threshold_count=0, **ROLLING), 0)
    report(["gw-01"], new)
    report(["gw-02"], new, FAILED)
    deployment = tick(deployment, 5)
    # Rolling back until the two changed gateways report their previous config applied (test_rollback.py).
    assert (deployment.status, deployment.outcome, deployment.finished_at) == ("rolling_back", "failed", None)
    assert states(deployment) == {  # how the rollout went: the failure stays on record
        "gw-01": "applied",
        "gw-02": "failed",
        "gw-03": "pending",
        "gw-04": "pending",
        "gw-05": "pending",
    }
    assert set(desired(deployment).values()) == {"old"}
    assert kinds(deployment)[-3:] == ["failed", "stopped", "rollback_started"]
    stopped, started = deployment.events.filter(kind__in=["stopped", "rollback_started"])
    assert stopped.message == "Stopped: 1 failed target(s) exceed the threshold of 0."
    assert (started.count, started.data["returning"]) == (2, ["gw-01", "gw-02"])
    assert started.message == "Rolled back automatically: 2 target(s) are returning to their previous config."


def test_a_percent_threshold_counts_failures_among_all_targets(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, failure_threshold_percent=20, strategy=Strategy.ALL_AT_ONCE), 0)
    report(["gw-01"], new, FAILED)
    assert tick(deployment, 5).status == DeploymentStatus.ROLLING_OUT  # 1 of 5 is 20%: not past it
    report(["gw-02"], new, FAILED)
    deployment = tick(deployment, 10)
    assert deployment.events.get(kind="stopped").message == (
        "Stopped: 2 failed target(s) of 5 exceed the threshold of 20%."
    )


def test_without_auto_rollback_it_stops_failed_and_leaves_the_configs(org, alice, new, fleet):
    params = {**ROLLING, "failure_threshold_count": 0, "auto_rollback": False}
    deployment = tick(deploy(org, alice, new, fleet, **params), 0)
    report(["gw-01"], new, FAILED)
    deployment = tick(deployment, 5)
    assert deployment.status == DeploymentStatus.FAILED
    assert desired(deployment)["gw-01"] == "new"
    assert states(deployment)["gw-01"] == "failed"


def test_rollback_gives_each_gateway_its_own_previous_config(org, alice, new, fleet):
    Gateway.objects.filter(name="gw-02").update(desired_config=OTHER, desired_config_hash=sha256_of(OTHER))
    params = {"strategy": Strategy.ALL_AT_ONCE, "failure_threshold_count": 0}
    deployment = tick(deploy(org, alice, new, fleet, **params), 0)
    report(["gw-01"], new, FAILED)
    deployment = tick(deployment, 5)
    assert desired(deployment) == {"gw-01": "old", "gw-02": "other", "gw-03": "old", "gw-04": "old", "gw-05": "old"}
    assert Gateway.objects.get(name="gw-02").desired_config == OTHER


def test_rollback_leaves_alone_a_gateway_whose_desired_config_changed_since(org, alice, new, fleet):
    params = {"strategy": Strategy.ALL_AT_ONCE, "failure_threshold_count": 1}
    deployment = tick(deploy(org, alice, new, fleet, **params), 0)
    Gateway.objects.filter(name="gw-03").update(desired_config=OTHER, desired_config_hash=sha256_of(OTHER))
    report(["gw-01"], new, FAILED)
    deployment = tick(deployment, 5)  # gw-03 fails too: replaced before it applied
    assert deployment.status == DeploymentStatus.ROLLING_BACK
    assert desired(deployment)["gw-03"] == "other"
    assert deployment.events.get(kind="rollback_started").data["left_alone"] == ["gw-03"]


def test_offline_gateways_wait_at_batch_start_and_are_counted(org, alice, new, fleet):
    set_status(GatewayStatus.OFFLINE, "gw-02")
    deployment = tick(deploy(org, alice, new, fleet, **ROLLING), 0)
    assert states(deployment)["gw-02"] == "pending"
    # Its desired config is set: the OpAMP server sends it when the gateway reconnects.
    assert desired(deployment)["gw-02"] == "new"
    assert Deployment.objects.with_progress().get().waiting_offline == 1
    event = deployment.events.get(kind=EventKind.BATCH_STARTED)
    # Named as the batches card names it (the first batch is "Batch 1"; issue 13, point 8).
    assert event.message == "Batch 1 started: sent to 1 target(s), 1 wait for their gateway to connect."


def test_a_waiting_target_does_not_hold_its_batchs_gate(org, alice, new, fleet):
    set_status(GatewayStatus.OFFLINE, "gw-02")
    deployment = tick(deploy(org, alice, new, fleet, **ROLLING), 0)
    report(["gw-01"], new)
    deployment = tick(deployment, 10)
    assert states(deployment)["gw-03"] == "sent"
    assert deployment.events.get(kind="gate_passed").data["waiting_offline"] == 1


def test_a_waiting_target_is_sent_when_its_gateway_connects(org, alice, new, fleet):
    set_status(GatewayStatus.OFFLINE, "gw-02")
    deployment = tick(deploy(org, alice, new, fleet, **ROLLING), 0)
    set_status(GatewayStatus.ONLINE, "gw-02")
    deployment = tick(deployment, 20)
    assert sent_at(deployment)["gw-02"] == 20
    assert deployment.events.get(kind=EventKind.DELIVERED).data["gateways"] == ["gw-02"]
    assert Deployment.objects.with_progress().get().waiting_offline == 0


def test_the_deployment_succeeds_only_once_its_offline_targets_applied(org, alice, new, fleet):
    set_status(GatewayStatus.OFFLINE, "gw-05")
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    report_sent(deployment, new)
    assert tick(deployment, 10).status == DeploymentStatus.ROLLING_OUT
    set_status(GatewayStatus.ONLINE, "gw-05")
    report(["gw-05"], new)  # reconnected, got its config on connect, applied it
    deployment = tick(deployment, 20)
    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert states(deployment)["gw-05"] == "applied"


def test_the_canary_batch_waits_while_every_canary_is_offline(org, alice, new, fleet):
    set_status(GatewayStatus.OFFLINE, "gw-01")
    deployment = deploy(org, alice, new, fleet, strategy=Strategy.CANARY, canary_count=1, batch_size=2)
    deployment = tick(tick(deployment, 0), 100)
    assert deployment.gate_passed_at is None
    assert states(deployment)["gw-02"] == "pending"


def test_it_stops_when_every_canary_failed_even_under_the_threshold(org, alice, new, fleet):
    params = {"strategy": Strategy.CANARY, "canary_count": 2, "batch_size": 2, "failure_threshold_percent": 50}
    deployment = tick(deploy(org, alice, new, fleet, **params), 0)
    report(["gw-01", "gw-02"], new, FAILED)
    deployment = tick(deployment, 5)
    assert deployment.status == DeploymentStatus.ROLLING_BACK
    assert (
        deployment.events.get(kind="stopped").message == "Stopped: Every canary target that received the config failed."
    )


def test_batch_start_records_the_config_the_gateway_runs_at_that_moment(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, **ROLLING), 0)
    Gateway.objects.filter(name="gw-03").update(desired_config=OTHER, desired_config_hash=sha256_of(OTHER))
    report_sent(deployment, new)
    deployment = tick(deployment, 10)
    # A rollback gives back what batch 1 replaced, not what ran when the deployment was created.
    assert deployment.targets.get(gateway__name="gw-03").previous_config == OTHER


def test_a_tick_changes_nothing_on_a_finished_deployment(org, alice, new, fleet):
    deployment = tick(deploy(org, alice, new, fleet, strategy=Strategy.ALL_AT_ONCE), 0)
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.CANCELLED)
    report_sent(deployment, new)
    assert set(states(tick(deployment, 10)).values()) == {"sent"}


def snapshot(deployment):
    """Everything a tick may change."""
    deployment.refresh_from_db()
    return {
        "deployment": [
            getattr(deployment, name) for name in ("status", "current_batch", "gate_passed_at", "updated_at")
        ],
        "targets": list(deployment.targets.values_list("gateway__name", "status", "error", "sent_at", "applied_at")),
        "events": deployment.events.count(),
        "audit": AuditLog.objects.count(),
        "gateways": list(Gateway.objects.values_list("name", "desired_config_hash", "updated_at")),
    }


def test_running_the_same_tick_twice_changes_nothing_the_second_time(org, alice, new, fleet):
    set_status(GatewayStatus.OFFLINE, "gw-04")
    params = {"strategy": Strategy.CANARY, "canary_count": 1, "batch_size": 2, "failure_threshold_count": 1}
    deployment = deploy(org, alice, new, fleet, health_window_seconds=5, pause_seconds=5, **params)
    for second in range(0, 100, 3):
        sent = states(deployment)["gw-03"] == "sent"
        report_sent(deployment, new)
        if sent:
            report(["gw-03"], new, FAILED)  # its agent cannot apply the config
        tick(deployment, second)
        before = snapshot(deployment)
        tick(deployment, second)
        assert snapshot(deployment) == before, second
    # The scenario went through every step: batches, a failure, a waiting target, the end.
    assert deployment.status == DeploymentStatus.ROLLING_OUT
    assert states(deployment) == {
        "gw-01": "applied",
        "gw-02": "applied",
        "gw-03": "failed",
        "gw-04": "pending",
        "gw-05": "applied",
    }
