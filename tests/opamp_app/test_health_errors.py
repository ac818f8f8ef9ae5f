"""Dated errors (opamp_core/health_errors.py): every error keeps when it happened and when it was resolved."""

from datetime import timedelta

from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import NOW, Agent, Server, remote_status

STARTED = NOW + timedelta(seconds=30)


def ns(moment):
    return int(moment.timestamp() * 1e9)


def health(healthy, error="", *, at=NOW, started=None):
    """The supervisor's shape: the root and its `collector` component report the same error."""
    collector = opamp_pb2.ComponentHealth(
        healthy=healthy, status="running" if healthy else "restarting after a crash", last_error=error,
        status_time_unix_nano=ns(at), start_time_unix_nano=ns(started) if started else 0,
    )  # fmt: skip
    root = opamp_pb2.ComponentHealth()
    root.CopyFrom(collector)
    root.component_health_map["collector"].CopyFrom(collector)
    return root


def test_a_start_up_error_is_dated_then_resolved_once_the_collector_is_healthy():
    agent, server = Agent(), Server()
    server.receive(agent.message(health=health(False, "exit code 1: bind: address already in use")))
    [entry] = server.state.health_errors
    assert entry["message"] == "exit code 1: bind: address already in use"
    assert (entry["source"], entry["component"]) == ("health", "collector")
    assert entry["at"] == NOW.isoformat() and entry["resolved_at"] is None

    later = NOW + timedelta(minutes=1)
    server.receive(agent.message(health=health(True, at=later, started=STARTED)), now=later)
    [entry] = server.state.health_errors
    assert entry["at"] == NOW.isoformat()
    assert entry["resolved_at"] == later.isoformat()
    assert entry["healthy_since"] == STARTED.isoformat()


def test_a_stale_error_reported_while_healthy_is_recorded_as_resolved_once():
    """Agents that keep their last_error while healthy (as the supervisor did) never show an open error."""
    agent, server = Agent(), Server()
    result = server.receive(agent.message(health=health(True, "killed by SIGKILL", started=STARTED)))
    [entry] = server.state.health_errors
    assert entry["resolved_at"] == entry["at"] == NOW.isoformat()
    assert entry["healthy_since"] == STARTED.isoformat()
    assert "health_errors" in result.changes

    again = server.receive(agent.message(health=health(True, "killed by SIGKILL", at=STARTED, started=STARTED)))
    assert len(server.state.health_errors) == 1
    assert "health_errors" not in again.changes


def test_a_failed_remote_config_is_resolved_by_a_later_applied_one():
    agent, server = Agent(), Server()
    failed = remote_status("ab" * 32, opamp_pb2.RemoteConfigStatuses_FAILED, "receivers: unknown type: otlp")
    server.receive(agent.message(remote_config_status=failed, health=health(True, started=STARTED)))
    [entry] = server.state.health_errors
    assert (entry["source"], entry["component"]) == ("remote_config", "ab" * 32)
    assert entry["at"] == NOW.isoformat() and entry["resolved_at"] is None

    later = NOW + timedelta(minutes=2)
    applied = remote_status("cd" * 32, opamp_pb2.RemoteConfigStatuses_APPLIED)
    server.receive(agent.message(remote_config_status=applied), now=later)
    [entry] = server.state.health_errors
    assert entry["resolved_at"] == later.isoformat()
    assert entry["healthy_since"] == STARTED.isoformat()


def test_heartbeats_and_repeated_reports_write_nothing():
    agent, server = Agent(), Server()
    server.receive(agent.message(health=health(False, "boom")))
    history = server.state.health_errors
    for message in (agent.message(), agent.message(health=health(False, "boom"))):
        assert "health_errors" not in server.receive(message).changes
    assert server.state.health_errors is history


def test_the_history_is_short_and_newest_first():
    agent, server = Agent(), Server()
    for number in range(15):
        server.receive(agent.message(health=health(False, f"error {number}")))
    messages = [entry["message"] for entry in server.state.health_errors]
    assert messages == [f"error {number}" for number in range(14, 4, -1)]
    assert all(entry["resolved_at"] for entry in server.state.health_errors[1:])  # replaced by the next error
