"""The heartbeat interval offer (ConnectionSettingsOffers.opamp.heartbeat_interval_seconds)."""

from dataclasses import replace

from opamp_core import protocol
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import BASE_CAPS, Agent, Server

HEARTBEAT_CAPS = BASE_CAPS | opamp_pb2.AgentCapabilities_ReportsHeartbeat


def server_with_heartbeat(seconds=45):
    return Server(replace(Server().state, heartbeat_interval_seconds=seconds))


def test_it_offers_the_heartbeat_interval_on_the_first_message():
    reply = server_with_heartbeat(45).receive(Agent(capabilities=HEARTBEAT_CAPS).message()).reply
    assert reply.connection_settings.opamp.heartbeat_interval_seconds == 45
    assert reply.connection_settings.hash == protocol.settings_hash(45)


def test_the_offer_hash_is_stable_and_follows_the_interval():
    assert protocol.settings_hash(45) == protocol.settings_hash(45)
    assert protocol.settings_hash(45) != protocol.settings_hash(60)
    assert len(protocol.settings_hash(45)) == 32


def test_it_does_not_repeat_the_offer_on_the_same_connection():
    agent = Agent(capabilities=HEARTBEAT_CAPS)
    server = server_with_heartbeat()
    server.receive(agent.message())
    assert not server.receive(agent.message()).reply.HasField("connection_settings")


def test_it_offers_again_on_a_new_connection():
    agent = Agent(capabilities=HEARTBEAT_CAPS)
    server = server_with_heartbeat()
    server.receive(agent.message())
    server.session = protocol.Session()
    assert server.receive(agent.message()).reply.HasField("connection_settings")


def test_it_offers_again_when_the_interval_changes():
    agent = Agent(capabilities=HEARTBEAT_CAPS)
    server = server_with_heartbeat(45)
    server.receive(agent.message())
    server.state = replace(server.state, heartbeat_interval_seconds=60)
    assert server.receive(agent.message()).reply.connection_settings.opamp.heartbeat_interval_seconds == 60


def test_it_makes_no_offer_to_an_agent_without_reports_heartbeat():
    reply = server_with_heartbeat().receive(Agent(capabilities=BASE_CAPS).message()).reply
    assert not reply.HasField("connection_settings")


def test_it_makes_no_offer_when_the_agent_reports_it_holds_the_same_settings():
    status = opamp_pb2.ConnectionSettingsStatus(
        last_connection_settings_hash=protocol.settings_hash(45), status=opamp_pb2.ConnectionSettingsStatuses_APPLIED
    )
    agent = Agent(capabilities=HEARTBEAT_CAPS | opamp_pb2.AgentCapabilities_ReportsConnectionSettingsStatus)
    reply = server_with_heartbeat(45).receive(agent.message(connection_settings_status=status)).reply
    assert not reply.HasField("connection_settings")


def test_no_offer_goes_with_a_disconnect():
    agent = Agent(capabilities=HEARTBEAT_CAPS)
    result = server_with_heartbeat().receive(agent.message(agent_disconnect=opamp_pb2.AgentDisconnect()))
    assert not result.reply.HasField("connection_settings")
