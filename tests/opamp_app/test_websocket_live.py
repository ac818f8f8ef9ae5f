"""The OpAMP WebSocket endpoint on a live server (flowgate_site.serve), driven by the `websockets` client."""

import time
import urllib.request
import uuid

import pytest

from gateways_app.models import Gateway, GatewayStatus
from opamp_core.proto import opamp_pb2
from tests.opamp_app.conftest import WsAgent, make_token, open_ws
from tests.opamp_app.peer import description

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(60)]

FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState
BAD_REQUEST = opamp_pb2.ServerErrorResponseType_BadRequest


def wait_for_row(pk, condition, seconds=5):
    """The Gateway row once condition(row) holds; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        row = Gateway.objects.get(pk=pk)
        if condition(row) or time.monotonic() > deadline:
            assert condition(row), row.__dict__
            return row
        time.sleep(0.05)


def test_an_agent_connects_with_a_bearer_token_and_its_report_reaches_the_gateway(ws_agent, gateway):
    reply = ws_agent.send(agent_description=description(host="gw-1.example.net"))
    assert reply.instance_uid == ws_agent.uid
    assert reply.capabilities & opamp_pb2.ServerCapabilities_OffersRemoteConfig
    row = Gateway.objects.get(pk=gateway.pk)
    assert row.instance_uid == uuid.UUID(bytes=ws_agent.uid)
    assert (row.status, row.hostname, row.agent_type) == (GatewayStatus.ONLINE, "gw-1.example.net", "otelcol-contrib")


def test_an_agent_may_pass_its_token_as_query_parameter_on_the_api_path(daphne, gateway, token):
    agent = WsAgent(open_ws(daphne, path="/api/v1/opamp/v1/opamp", query=f"?token={token}"))
    try:
        assert agent.send().instance_uid == agent.uid
    finally:
        agent.close()
    assert Gateway.objects.get(pk=gateway.pk).instance_uid == uuid.UUID(bytes=agent.uid)


def test_replies_are_binary_messages_with_header_zero(ws_agent):
    # Header 0 written in two bytes (a non-minimal varint) is still header 0.
    ws_agent.ws.send(b"\x80\x00" + ws_agent.message().SerializeToString())
    data = ws_agent.ws.recv(timeout=10)
    assert isinstance(data, bytes) and data[0] == 0
    assert opamp_pb2.ServerToAgent.FromString(data[1:]).instance_uid == ws_agent.uid


def test_the_first_message_of_a_connection_asks_for_the_full_state_and_the_next_does_not(ws_agent):
    assert ws_agent.send().flags & FULL_STATE
    assert not ws_agent.send().flags & FULL_STATE


def test_a_sequence_gap_is_answered_with_report_full_state(ws_agent):
    ws_agent.send()
    ws_agent.sequence_num += 3  # three messages lost
    assert ws_agent.send().flags & FULL_STATE


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x01" + opamp_pb2.AgentToServer().SerializeToString(), "unsupported header 1"),
        (b"\x00\x0a\x10\x01", "invalid AgentToServer protobuf"),  # field 1 claims 16 bytes, has 2
        (b"\x80", "message ends inside the header"),
    ],
)
def test_a_malformed_message_gets_bad_request_and_the_connection_keeps_working(ws_agent, data, reason):
    ws_agent.ws.send(data)
    error = ws_agent.receive().error_response
    assert error.type == BAD_REQUEST and reason in error.error_message
    assert ws_agent.send().instance_uid == ws_agent.uid


def test_a_text_frame_gets_bad_request(ws_agent):
    ws_agent.ws.send("hello")
    assert ws_agent.receive().error_response.type == BAD_REQUEST


def test_a_malformed_message_does_not_disturb_other_connections(daphne, ws_agent, org):
    other = Gateway.objects.create(organization=org, name="gw-2")
    bystander = WsAgent(open_ws(daphne, make_token(other)))
    try:
        bystander.send()
        ws_agent.ws.send(b"\x00\xff\xff\xff")
        assert ws_agent.receive().HasField("error_response")
        assert bystander.send().instance_uid == bystander.uid
    finally:
        bystander.close()


def test_closing_the_socket_marks_the_gateway_offline(ws_agent, gateway):
    ws_agent.send()
    assert Gateway.objects.get(pk=gateway.pk).status == GatewayStatus.ONLINE
    ws_agent.close()
    wait_for_row(gateway.pk, lambda row: row.status == GatewayStatus.OFFLINE)


def test_agent_disconnect_marks_the_gateway_offline_at_once(ws_agent, gateway):
    ws_agent.send()
    ws_agent.send(agent_disconnect=opamp_pb2.AgentDisconnect())
    assert Gateway.objects.get(pk=gateway.pk).status == GatewayStatus.OFFLINE


def test_a_connected_gateway_stays_online_and_its_last_seen_advances_without_writes_per_message(ws_agent, gateway):
    ws_agent.send()
    first_seen = Gateway.objects.get(pk=gateway.pk).last_seen
    # The per-process presence write (every second on this test server) refreshes last_seen.
    row = wait_for_row(gateway.pk, lambda row: row.last_seen > first_seen, seconds=8)
    assert row.status == GatewayStatus.ONLINE


def test_an_agent_cannot_take_the_uid_of_another_gateway(daphne, org, token, gateway):
    other = Gateway.objects.create(organization=org, name="gw-2", instance_uid=uuid.uuid4())
    agent = WsAgent(open_ws(daphne, token), uid=other.instance_uid.bytes)
    try:
        reply = agent.send(agent_description=description(host="impostor"))
    finally:
        agent.close()
    # The uid is taken: this gateway gets a fresh one, and the agent is told to use it.
    new_uid = reply.agent_identification.new_instance_uid
    assert len(new_uid) == 16 and new_uid != other.instance_uid.bytes
    assert Gateway.objects.get(pk=gateway.pk).instance_uid == uuid.UUID(bytes=new_uid)
    assert Gateway.objects.get(pk=other.pk).hostname == ""


def test_an_idle_connection_survives_the_channel_layers_blocking_reads(ws_agent):
    ws_agent.send()
    # channels-redis waits 5 s per blocking pop; a Redis socket timeout at or under that would
    # crash the idle consumer (closed with 1011) once a read is cut short. The idling is what is tested.
    time.sleep(11)
    assert ws_agent.send().instance_uid == ws_agent.uid


def test_the_row_records_the_transport_the_agent_uses_now(daphne, gateway, token):
    ws_agent = WsAgent(open_ws(daphne, token))
    ws_agent.send()
    assert Gateway.objects.get(pk=gateway.pk).transport == "websocket"
    ws_agent.send(agent_disconnect=opamp_pb2.AgentDisconnect())
    ws_agent.close()
    # The agent falls back to plain HTTP polling.
    poll = opamp_pb2.AgentToServer(instance_uid=ws_agent.uid, sequence_num=1, capabilities=ws_agent.capabilities)
    request = urllib.request.Request(
        f"{daphne.url}/v1/opamp",
        data=poll.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (the local test server)
        assert response.status == 200
    row = Gateway.objects.get(pk=gateway.pk)
    assert (row.transport, row.status) == ("http", GatewayStatus.ONLINE)
