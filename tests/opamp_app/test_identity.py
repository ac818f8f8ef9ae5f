"""instance_uid adoption, mismatches and server-assigned uids."""

import uuid
from dataclasses import replace

from opamp_core import protocol
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import Agent, Server, description, field_names

REQUEST_UID = opamp_pb2.AgentToServerFlags_RequestInstanceUid


def test_a_gateway_without_uid_adopts_the_uid_of_its_first_message():
    agent = Agent()
    result = Server().receive(agent.message())
    assert result.changes["instance_uid"] == uuid.UUID(bytes=agent.uid)
    assert result.claims_new_uid == uuid.UUID(bytes=agent.uid)
    assert not result.reply.HasField("agent_identification")


def test_a_known_uid_is_not_claimed_again():
    agent = Agent()
    server = Server()
    server.receive(agent.message())
    result = server.receive(agent.message())
    assert result.claims_new_uid is None
    assert "instance_uid" not in result.changes


def test_a_different_uid_is_told_the_stored_uid_and_changes_nothing():
    stored = uuid.uuid4().bytes
    server = Server(replace(Server().state, instance_uid=stored))
    result = server.receive(Agent().message(agent_description=description(name="impostor")))
    assert result.uid_mismatch
    assert result.reply.agent_identification.new_instance_uid == stored
    assert result.changes == {}
    # Its status was not recorded, so the agent is asked to send it again under the stored uid.
    assert result.reply.flags & opamp_pb2.ServerToAgentFlags_ReportFullState


def test_after_switching_uid_the_agent_is_served_normally():
    stored = uuid.uuid4().bytes
    server = Server(replace(Server().state, instance_uid=stored))
    agent = Agent()
    reply = server.receive(agent.message()).reply
    agent.uid = reply.agent_identification.new_instance_uid
    result = server.receive(agent.message(agent_description=description()))
    assert not result.uid_mismatch
    assert result.changes["agent_type"] == "otelcol-contrib"


def test_a_uid_request_gives_a_new_gateway_a_fresh_uuid7():
    agent = Agent()
    result = Server().receive(agent.message(flags=REQUEST_UID))
    new_uid = result.reply.agent_identification.new_instance_uid
    assert len(new_uid) == 16 and new_uid != agent.uid
    assert uuid.UUID(bytes=new_uid).version == 7
    assert result.changes["instance_uid"] == uuid.UUID(bytes=new_uid)


def test_a_uid_request_from_a_known_gateway_gets_the_stored_uid():
    stored = uuid.uuid4().bytes
    server = Server(replace(Server().state, instance_uid=stored))
    result = server.receive(Agent().message(flags=REQUEST_UID, agent_description=description()))
    assert result.reply.agent_identification.new_instance_uid == stored
    assert "instance_uid" not in result.changes
    assert result.changes["agent_type"] == "otelcol-contrib"


def test_reassigning_replaces_a_uid_another_gateway_already_holds():
    agent = Agent()
    result = protocol.process(agent.message(), protocol.GatewayState())
    fresh = protocol.new_instance_uid()
    reassigned = protocol.reassign_instance_uid(result, fresh)
    assert reassigned.changes["instance_uid"] == uuid.UUID(bytes=fresh)
    assert reassigned.reply.agent_identification.new_instance_uid == fresh
    assert "agent_identification" not in field_names(result.reply)  # the original is untouched


def test_state_accepts_the_uuid_of_a_gateway_row():
    stored = uuid.uuid4()
    assert protocol.GatewayState(instance_uid=stored).instance_uid == stored.bytes
