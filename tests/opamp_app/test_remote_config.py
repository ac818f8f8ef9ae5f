"""When the protocol core sends the desired configuration, and when it holds back."""

import hashlib
from dataclasses import replace

from opamp_core import protocol
from opamp_core.convert import config_hash
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import BASE_CAPS, CONFIG_CAPS, YAML, Agent, Server, remote_status

DESIRED = "receivers:\n  otlp: {}\nexporters:\n  debug: {}\n"
OLD_HASH = config_hash(YAML)
APPLYING = opamp_pb2.RemoteConfigStatuses_APPLYING
APPLIED = opamp_pb2.RemoteConfigStatuses_APPLIED


def server_with_desired_config(desired=DESIRED):
    state = replace(Server().state, desired_config=desired, desired_config_hash=config_hash(desired))
    return Server(state)


def test_it_sends_the_desired_config_to_an_agent_that_accepts_it():
    result = server_with_desired_config().receive(Agent(capabilities=CONFIG_CAPS).message())
    config = result.reply.remote_config
    assert config.config.config_map[""].body == DESIRED.encode()
    assert config.config.config_map[""].content_type == "text/yaml"
    assert config.config_hash == hashlib.sha256(DESIRED.encode()).digest()
    assert result.config_sent


def test_it_never_sends_config_to_an_agent_without_accepts_remote_config():
    agent = Agent(capabilities=BASE_CAPS | opamp_pb2.AgentCapabilities_ReportsRemoteConfig)
    result = server_with_desired_config().receive(agent.message())
    assert not result.reply.HasField("remote_config")


def test_it_sends_nothing_without_a_desired_config():
    result = Server().receive(Agent(capabilities=CONFIG_CAPS).message())
    assert not result.reply.HasField("remote_config")


def test_it_sends_the_config_once_then_not_while_the_agent_applies_it():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    assert server.receive(agent.message()).config_sent
    applying = server.receive(agent.message(remote_config_status=remote_status(config_hash(DESIRED), APPLYING)))
    heartbeat = server.receive(agent.message())
    assert not applying.reply.HasField("remote_config")
    assert not heartbeat.reply.HasField("remote_config")
    assert server.state.remote_config_status == "applying"


def test_it_does_not_repeat_the_config_while_the_agent_still_reports_the_old_hash():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    server.receive(agent.message(remote_config_status=remote_status(OLD_HASH, opamp_pb2.RemoteConfigStatuses_APPLIED)))
    # The agent has not acted on the config yet; repeating it on every heartbeat would only add load.
    assert not server.receive(agent.message()).reply.HasField("remote_config")


def test_a_sequence_gap_alone_does_not_resend_the_config_just_sent():
    # The Python OpAMP client numbers messages from two threads: gaps and repeats are common.
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    assert server.receive(agent.message()).config_sent
    agent.sequence_num += 1
    gap = server.receive(agent.message())
    assert gap.full_state_requested and not gap.reply.HasField("remote_config")


def test_after_a_sequence_gap_a_report_of_the_old_hash_gets_the_config_again():
    # The agent lost our config (or never got it): its full report says it still runs the old one.
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    assert server.receive(agent.message(remote_config_status=remote_status(OLD_HASH, APPLIED))).config_sent
    agent.sequence_num += 1
    assert server.receive(agent.message(remote_config_status=remote_status(OLD_HASH, APPLIED))).config_sent


def test_it_resends_the_config_on_a_new_connection_when_the_agent_runs_another():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    server.receive(agent.message(remote_config_status=remote_status(OLD_HASH, opamp_pb2.RemoteConfigStatuses_APPLIED)))
    server.session = protocol.Session()  # the agent reconnected
    assert server.receive(agent.message()).reply.HasField("remote_config")


def test_it_resends_the_config_when_the_agent_reports_yet_another_hash():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    server.receive(agent.message())
    other = remote_status("ef" * 32, opamp_pb2.RemoteConfigStatuses_APPLIED)
    assert server.receive(agent.message(remote_config_status=other)).reply.HasField("remote_config")


def test_it_does_not_resend_a_config_the_agent_failed_to_apply():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    failed = remote_status(config_hash(DESIRED), opamp_pb2.RemoteConfigStatuses_FAILED, "bad exporter")
    result = server.receive(agent.message(remote_config_status=failed))
    assert not result.reply.HasField("remote_config")
    assert (server.state.remote_config_status, server.state.remote_config_error) == ("failed", "bad exporter")


def test_a_new_desired_config_is_sent_during_the_connection():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    server.receive(agent.message(remote_config_status=remote_status(config_hash(DESIRED), APPLYING)))
    newer = DESIRED + "processors:\n  batch: {}\n"
    server.state = replace(server.state, desired_config=newer, desired_config_hash=config_hash(newer))
    assert server.receive(agent.message()).reply.remote_config.config_hash.hex() == config_hash(newer)


def test_push_sends_a_changed_desired_config_without_waiting_for_the_agent():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    server.receive(agent.message(remote_config_status=remote_status(config_hash(DESIRED), APPLYING)))
    newer = DESIRED + "processors:\n  batch: {}\n"
    state = replace(server.state, desired_config=newer, desired_config_hash=config_hash(newer))
    reply, session = protocol.push(state, server.session)
    assert reply.remote_config.config_hash.hex() == config_hash(newer)
    assert reply.instance_uid == agent.uid
    # Pushed once: the same push again has nothing to say.
    assert protocol.push(state, session)[0] is None


def test_push_has_nothing_to_say_when_the_agent_is_up_to_date():
    agent = Agent(capabilities=CONFIG_CAPS)
    server = server_with_desired_config()
    server.receive(agent.message(remote_config_status=remote_status(config_hash(DESIRED), APPLYING)))
    assert protocol.push(server.state, server.session) == (None, server.session)
