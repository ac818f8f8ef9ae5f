"""Valid OpAMP reports the database could not hold as they came are stored and answered normally.

Before, each of these got UNAVAILABLE on every try (PostgreSQL refuses a NUL character in text
and jsonb, a 101-character service.name, a uint64 above 2**63 - 1): no config was delivered and
the gateway looked offline while connected. Both transports share the conversion, so every case
runs over WebSocket (the consumer) and plain HTTP (the view).
"""

import hashlib
import math

import pytest

from gateways_app.models import Gateway
from opamp_core import protocol
from opamp_core.convert import NUL_MARK, TRUNCATED
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import CONFIG_CAPS, Agent, description, effective_config, kv, remote_status
from tests.opamp_app.transports import over_http, over_websocket

pytestmark = pytest.mark.django_db(transaction=True)

FAILED = opamp_pb2.RemoteConfigStatuses_FAILED
UINT64_MAX = 2**64 - 1


@pytest.fixture(params=["websocket", "http"])
def exchange(request, token, client):
    """exchange(*messages) -> the replies, over the transport of this run."""
    if request.param == "websocket":
        return lambda *messages: over_websocket(token, messages)
    return lambda *messages: over_http(token, messages, client)


@pytest.fixture
def agent():
    return Agent(capabilities=CONFIG_CAPS | opamp_pb2.AgentCapabilities_ReportsHealth)


def assert_answered_normally(replies):
    for reply in replies:
        assert not reply.HasField("error_response"), reply.error_response


def stored(gateway):
    return Gateway.objects.get(pk=gateway.pk)


def test_a_nul_in_the_health_error_is_stored_escaped(exchange, agent, gateway):
    health = opamp_pb2.ComponentHealth(healthy=False, last_error="exporter\x00failed")
    health.component_health_map["exporter/otlp"].last_error = "\x00"
    health.attributes.append(kv("k\x00ey", "v\x00"))
    assert_answered_normally(exchange(agent.message(health=health)))
    row = stored(gateway)
    assert row.health["last_error"] == f"exporter{NUL_MARK}failed"  # visible, and never a NUL again
    assert row.health["component_health_map"]["exporter/otlp"]["last_error"] == NUL_MARK
    assert row.health["attributes"] == {f"k{NUL_MARK}ey": f"v{NUL_MARK}"}


def test_a_nul_in_the_effective_config_is_stored_escaped_and_hashed_as_reported(exchange, agent, gateway):
    body = "receivers:\n  otlp: {}\n# \x00\n"
    assert_answered_normally(exchange(agent.message(effective_config=effective_config(body))))
    row = stored(gateway)
    assert row.effective_config == f"receivers:\n  otlp: {{}}\n# {NUL_MARK}\n"
    # The hash is of what the agent runs, so drift detection stays true.
    assert row.effective_config_hash == hashlib.sha256(body.encode()).hexdigest()


def test_a_nul_in_the_remote_config_error_is_stored_escaped(exchange, agent, gateway):
    status = remote_status("ab" * 32, FAILED, error="bad\x00config")
    assert_answered_normally(exchange(agent.message(remote_config_status=status)))
    row = stored(gateway)
    assert (row.remote_config_status, row.remote_config_error) == ("failed", f"bad{NUL_MARK}config")


@pytest.mark.parametrize(
    ("attribute", "column"), [("service.name", "agent_type"), ("service.version", "agent_version")]
)
def test_a_description_value_longer_than_its_column_is_truncated_with_a_marker(
    exchange, agent, gateway, attribute, column
):
    long_value = "x" * 500
    report = description(name=long_value) if attribute == "service.name" else description(version=long_value)
    assert_answered_normally(exchange(agent.message(agent_description=report)))
    value = getattr(stored(gateway), column)
    assert len(value) == Gateway._meta.get_field(column).max_length
    assert value.endswith(TRUNCATED)
    assert value.startswith("xxxx")


def test_the_largest_capabilities_are_stored_exactly(exchange, gateway):
    agent = Agent(capabilities=UINT64_MAX)
    assert_answered_normally(exchange(agent.message(agent_description=description())))
    assert stored(gateway).capabilities == UINT64_MAX


def test_the_largest_sequence_numbers_are_answered_normally(exchange, agent, gateway):
    agent.sequence_num = UINT64_MAX - 1
    replies = exchange(agent.message(agent_description=description()), agent.message())
    assert_answered_normally(replies)
    assert not replies[1].flags & opamp_pb2.ServerToAgentFlags_ReportFullState  # 2**64 - 1 follows 2**64 - 2
    assert stored(gateway).agent_type == "otelcol-contrib"


def test_non_finite_numbers_and_over_long_hashes_are_stored(exchange, agent, gateway):
    report = description()
    pair = report.non_identifying_attributes.add(key="load")
    pair.value.double_value = math.nan
    status = remote_status("cd" * 40, FAILED)  # 40 bytes: longer than a SHA-256
    assert_answered_normally(exchange(agent.message(agent_description=report, remote_config_status=status)))
    row = stored(gateway)
    assert row.agent_description["non_identifying_attributes"]["load"] == "NaN"
    assert len(row.remote_config_hash) == 64 and row.remote_config_hash.endswith(TRUNCATED)


def test_a_long_host_name_is_truncated_with_a_marker(exchange, agent, gateway):
    assert_answered_normally(exchange(agent.message(agent_description=description(host="h" * 1000))))
    assert stored(gateway).hostname == "h" * 254 + TRUNCATED


def test_the_protocol_knows_the_length_of_every_text_column_it_fills():
    for name, length in protocol.COLUMN_CHARS.items():
        assert Gateway._meta.get_field(name).max_length == length, name


def test_a_report_the_database_refuses_gets_bad_request_once_not_retry_later(exchange, agent, gateway, monkeypatch):
    # As if the conversion missed a case: the column is shorter than the protocol believes.
    monkeypatch.setitem(protocol.COLUMN_CHARS, "agent_type", 500)
    refused, heartbeat = exchange(agent.message(agent_description=description(name="n" * 300)), agent.message())
    assert refused.error_response.type == opamp_pb2.ServerErrorResponseType_BadRequest
    assert refused.error_response.error_message.startswith("the report could not be stored: ")
    # The agent must not resend it (spec), and the next reply does not ask for it again.
    assert not heartbeat.HasField("error_response")
    assert not heartbeat.flags & opamp_pb2.ServerToAgentFlags_ReportFullState
