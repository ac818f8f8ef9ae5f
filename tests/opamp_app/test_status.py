"""Status reporting, compression and sequence numbers in the OpAMP protocol core."""

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from opamp_core import protocol
from opamp_core.convert import sha256_hex
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import NOW, YAML, Agent, Server, description, effective_config, field_names, remote_status

FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState


def full_report(agent):
    health = opamp_pb2.ComponentHealth(healthy=True, start_time_unix_nano=5, status="StatusOK")
    health.component_health_map["pipeline:traces"].healthy = True
    return agent.message(agent_description=description(), health=health, effective_config=effective_config())


def connected_server(agent):
    """A server that has processed one full report of `agent` on this connection."""
    server = Server()
    server.receive(full_report(agent))
    return server


@pytest.mark.parametrize("length", [0, 15, 17])
def test_it_rejects_an_instance_uid_that_is_not_16_bytes(length):
    result = Server().receive(Agent(uid=b"u" * length).message())
    assert result.reply.error_response.type == opamp_pb2.ServerErrorResponseType_BadRequest
    assert f"must be 16 bytes, got {length}" in result.reply.error_response.error_message
    assert result.error and result.changes == {}
    # The spec forbids any other field next to error_response.
    assert field_names(result.reply) <= {"instance_uid", "error_response"}


def test_it_records_a_full_status_report():
    result = Server().receive(full_report(Agent()))
    changes = result.changes
    assert changes["agent_description"]["identifying_attributes"]["service.name"] == "otelcol-contrib"
    assert (changes["agent_type"], changes["agent_version"], changes["hostname"]) == (
        "otelcol-contrib",
        "0.120.0",
        "gw-1",
    )
    assert changes["health"]["component_health_map"]["pipeline:traces"]["healthy"] is True
    assert changes["effective_config"] == YAML
    assert changes["effective_config_hash"] == sha256_hex(YAML)
    assert changes["status"] == "online"


def test_it_asks_for_full_state_on_first_contact_without_a_sequence():
    result = Server().receive(Agent(sequence_num=41).message())
    assert result.reply.flags & FULL_STATE
    assert result.full_state_requested


def test_a_first_message_that_already_is_a_full_report_is_not_asked_again():
    # One round trip less per agent in every reconnection wave.
    result = Server().receive(full_report(Agent(sequence_num=41)))
    assert not result.reply.flags & FULL_STATE


def test_a_first_message_missing_a_part_the_agent_reports_asks_for_the_full_state():
    # ReportsEffectiveConfig, but no effective_config: the server cannot know it is current.
    agent = Agent()
    message = agent.message(agent_description=description(), health=opamp_pb2.ComponentHealth(healthy=True))
    assert Server().receive(message).reply.flags & FULL_STATE
    assert not protocol.is_full_report(message)


def test_it_does_not_ask_for_full_state_for_the_next_sequence_number():
    agent = Agent()
    server = connected_server(agent)
    assert not server.receive(agent.message()).reply.flags & FULL_STATE


def test_it_asks_for_full_state_when_a_sequence_number_is_skipped():
    agent = Agent()
    server = connected_server(agent)
    agent.sequence_num += 1  # one message lost on the way
    assert server.receive(agent.message()).reply.flags & FULL_STATE


def test_a_compressed_message_keeps_the_previous_values():
    agent = Agent()
    server = connected_server(agent)
    before = server.state
    new_health = opamp_pb2.ComponentHealth(healthy=True, status="StatusRecovered")
    result = server.receive(agent.message(health=new_health))
    assert set(result.changes) == {"health", "last_seen"}
    assert server.state.health["status"] == "StatusRecovered"
    assert server.state.agent_description == before.agent_description
    assert server.state.effective_config == YAML


def test_it_changes_nothing_when_nothing_changed():
    agent = Agent()
    server = connected_server(agent)
    result = server.receive(agent.message(), now=NOW + timedelta(seconds=30))
    assert result.changes == {}
    assert field_names(result.reply) == {"instance_uid", "capabilities"}
    assert result.reply.instance_uid == agent.uid


def test_a_bare_poll_without_capabilities_keeps_the_stored_capabilities():
    agent = Agent()
    server = connected_server(agent)
    result = server.receive(opamp_pb2.AgentToServer(instance_uid=agent.uid, sequence_num=agent.sequence_num))
    assert "capabilities" not in result.changes
    assert server.state.capabilities == agent.capabilities


def test_it_refreshes_last_seen_alone_only_after_the_refresh_interval():
    agent = Agent()
    server = connected_server(agent)
    later = NOW + protocol.LAST_SEEN_REFRESH
    assert server.receive(agent.message(), now=later).changes == {"last_seen": later}


def test_an_unhealthy_agent_makes_the_gateway_degraded():
    agent = Agent()
    server = connected_server(agent)
    result = server.receive(agent.message(health=opamp_pb2.ComponentHealth(healthy=False, last_error="boom")))
    assert result.changes["status"] == "degraded"
    assert server.state.health["last_error"] == "boom"


def test_disconnect_marks_the_gateway_offline():
    agent = Agent()
    server = connected_server(agent)
    result = server.receive(agent.message(agent_disconnect=opamp_pb2.AgentDisconnect()))
    assert result.disconnect
    assert result.changes["status"] == "offline"


def test_a_message_numbered_after_the_goodbye_does_not_bring_the_gateway_back():
    # The Python client can send a queued heartbeat right after its AgentDisconnect.
    agent = Agent()
    server = connected_server(agent)
    server.receive(agent.message(agent_disconnect=opamp_pb2.AgentDisconnect()))
    straggler = server.receive(agent.message(), now=NOW + timedelta(seconds=1))
    assert server.state.status == "offline" and "status" not in straggler.changes
    assert not straggler.reply.HasField("remote_config") and not straggler.reply.flags
    agent.sequence_num -= 1  # it even reuses the goodbye's number
    assert "status" not in server.receive(agent.message(), now=NOW + timedelta(seconds=1)).changes


def test_after_the_goodbye_a_restarted_agent_or_a_later_message_is_online_again():
    agent = Agent()
    server = connected_server(agent)
    server.receive(agent.message(agent_disconnect=opamp_pb2.AgentDisconnect()))
    later = server.receive(agent.message(), now=NOW + protocol.GOODBYE_GRACE)
    assert later.changes["status"] == "online"

    server.receive(agent.message(agent_disconnect=opamp_pb2.AgentDisconnect()))
    restarted = Agent(uid=agent.uid, sequence_num=0)  # a new process numbers from 0
    assert server.receive(restarted.message(), now=NOW + timedelta(seconds=1)).changes["status"] == "online"


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        (opamp_pb2.RemoteConfigStatuses_APPLYING, "applying"),
        (opamp_pb2.RemoteConfigStatuses_APPLIED, "applied"),
    ],
)
def test_it_records_the_remote_config_status(status, stored):
    agent = Agent()
    server = connected_server(agent)
    result = server.receive(agent.message(remote_config_status=remote_status("ab" * 32, status)))
    assert result.changes["remote_config_status"] == stored
    assert result.changes["remote_config_hash"] == "ab" * 32


def test_it_records_a_failed_config_with_its_error():
    agent = Agent()
    server = connected_server(agent)
    failed = remote_status("cd" * 32, opamp_pb2.RemoteConfigStatuses_FAILED, "unknown receiver 'otlpx'")
    result = server.receive(agent.message(remote_config_status=failed))
    assert result.changes["remote_config_status"] == "failed"
    assert result.changes["remote_config_error"] == "unknown receiver 'otlpx'"


def test_a_multi_file_effective_config_is_stored_in_name_order():
    config = opamp_pb2.EffectiveConfig()
    config.config_map.config_map["b.yaml"].body = b"b: 2\n"
    config.config_map.config_map["a.yaml"].body = b"a: 1\n"
    result = Server().receive(Agent().message(effective_config=config))
    assert result.changes["effective_config"] == "# file: a.yaml\na: 1\n\n# file: b.yaml\nb: 2\n"


def test_any_values_become_plain_python():
    agent_description = opamp_pb2.AgentDescription()
    value = agent_description.non_identifying_attributes.add(key="labels").value
    value.kvlist_value.values.add(key="zone").value.int_value = 3
    value.kvlist_value.values.add(key="tags").value.array_value.values.add().bool_value = True
    result = Server().receive(Agent().message(agent_description=agent_description))
    assert result.changes["agent_description"]["non_identifying_attributes"] == {"labels": {"zone": 3, "tags": [True]}}


def test_it_asks_once_for_the_components_of_an_unknown_hash():
    agent = Agent()
    server = connected_server(agent)
    hash_only = opamp_pb2.AvailableComponents(hash=b"\x01\x02")
    first = server.receive(agent.message(available_components=hash_only))
    again = server.receive(agent.message(available_components=hash_only))
    assert first.reply.flags & opamp_pb2.ServerToAgentFlags_ReportAvailableComponents
    assert not again.reply.flags & opamp_pb2.ServerToAgentFlags_ReportAvailableComponents


def test_a_hash_only_report_keeps_the_known_component_map():
    agent = Agent()
    server = Server(replace(Server().state, available_components={"hash": "0102", "components": {"receivers": {}}}))
    result = server.receive(agent.message(available_components=opamp_pb2.AvailableComponents(hash=b"\x01\x02")))
    assert "available_components" not in result.changes
    assert not result.reply.flags & opamp_pb2.ServerToAgentFlags_ReportAvailableComponents


def test_process_leaves_the_callers_state_and_session_untouched():
    agent = Agent(sequence_num=5)
    state = protocol.GatewayState(instance_uid=agent.uid, capabilities=1, health={"healthy": True})
    session = protocol.Session(sequence_num=4, messages=7)
    before = (replace(state), replace(session))
    result = protocol.process(agent.message(), state, session, now=NOW)
    assert (state, session) == before
    assert (result.session.messages, result.session.sequence_num) == (8, 5)
    new_uid = uuid.uuid4()
    applied = protocol.apply_changes(state, {"status": "online", "instance_uid": new_uid})
    assert (applied.status, applied.instance_uid) == ("online", new_uid.bytes)
    assert (state, session) == before
