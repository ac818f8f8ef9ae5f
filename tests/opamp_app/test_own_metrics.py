"""The OpAMP own_metrics offer (issue 14, point 1): agents with ReportsOwnMetrics are told where to push their
collector's own metrics — the portal's /v1/metrics as they reach it, their gateway's telemetry credential and the
organization's interval — and are offered it again when the credential is rotated or the interval changes."""

import time
from dataclasses import replace

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from core_app.models import OrgSettings
from opamp_app import services
from opamp_app.consumers import OpAMPConsumer
from opamp_app.presence import registry
from opamp_core import framing, offers, protocol
from opamp_core.proto import opamp_pb2
from telemetry_app import credentials
from telemetry_app.models import TelemetryCredential
from tests.opamp_app.peer import BASE_CAPS, Agent, Server
from tests.opamp_app.test_push import server_process  # noqa: F401  (fixture)
from tests.telemetry_app.conftest import accepted_logs, post

Caps = opamp_pb2.AgentCapabilities
OWN_METRICS_CAPS = BASE_CAPS | Caps.AgentCapabilities_ReportsOwnMetrics
PROTOBUF = "application/x-protobuf"
UID = bytes(range(16))
DESTINATION = offers.own_metrics_destination("https://portal.example.com/v1/metrics", "Bearer fgt_a_b", 30)


def headers_of(settings) -> dict:
    return {header.key: header.value for header in settings.headers.headers}


# The pure core: which agents get it, what it holds, and that it is part of the hash.


def test_an_agent_that_reports_own_metrics_is_offered_the_destination():
    server = Server(replace(Server().state, own_metrics=DESTINATION))
    settings = server.receive(Agent(capabilities=OWN_METRICS_CAPS).message()).reply.connection_settings
    assert settings.own_metrics.destination_endpoint == "https://portal.example.com/v1/metrics"
    assert headers_of(settings.own_metrics) == {
        "Authorization": "Bearer fgt_a_b",
        offers.METRICS_INTERVAL_HEADER: "30",
    }
    assert not settings.HasField("opamp")  # no heartbeat capability: no opamp part
    assert settings.hash == offers.offer(OWN_METRICS_CAPS, 30, (), "", DESTINATION)[0]


def test_an_agent_without_the_capability_is_not_offered_it():
    server = Server(replace(Server().state, own_metrics=DESTINATION))
    assert not server.receive(Agent(capabilities=BASE_CAPS).message()).reply.HasField("connection_settings")
    heartbeat = Agent(capabilities=BASE_CAPS | Caps.AgentCapabilities_ReportsHeartbeat)
    settings = Server(replace(Server().state, own_metrics=DESTINATION)).receive(heartbeat.message()).reply
    assert not settings.connection_settings.HasField("own_metrics")


def test_the_hash_covers_the_credential_and_the_interval():
    base = offers.offer(OWN_METRICS_CAPS, 30, (), "", DESTINATION)[0]
    rotated = offers.own_metrics_destination("https://portal.example.com/v1/metrics", "Bearer fgt_c_d", 30)
    slower = offers.own_metrics_destination("https://portal.example.com/v1/metrics", "Bearer fgt_a_b", 60)
    assert len({base, offers.offer(OWN_METRICS_CAPS, 30, (), "", rotated)[0]}) == 2
    assert len({base, offers.offer(OWN_METRICS_CAPS, 30, (), "", slower)[0]}) == 2
    # Without a destination nothing is offered, and heartbeat-only offers keep the hash they had.
    assert offers.offer(OWN_METRICS_CAPS, 30, (), "", ()) is None
    both = BASE_CAPS | Caps.AgentCapabilities_ReportsHeartbeat | Caps.AgentCapabilities_ReportsOwnMetrics
    assert offers.offer(both, 30, (), "ws://a/v1/opamp", ())[0] == protocol.settings_hash(30, (), "ws://a/v1/opamp")


def test_a_changed_credential_is_offered_again_on_the_same_connection():
    agent = Agent(capabilities=OWN_METRICS_CAPS)
    server = Server(replace(Server().state, own_metrics=DESTINATION))
    server.receive(agent.message())
    assert not server.receive(agent.message()).reply.HasField("connection_settings")
    rotated = offers.own_metrics_destination("https://portal.example.com/v1/metrics", "Bearer fgt_c_d", 30)
    server.state = replace(server.state, own_metrics=rotated)
    reply, _ = protocol.push(server.state, server.session)
    assert headers_of(reply.connection_settings.own_metrics)["Authorization"] == "Bearer fgt_c_d"


# The database side: the credential comes with the authentication query, issued once.


@pytest.mark.django_db
def test_the_first_connection_issues_the_credential_and_later_ones_cost_one_query(
    gateway, token, django_assert_num_queries
):
    OrgSettings.objects.filter(organization=gateway.organization).update(telemetry_interval_seconds=15)
    first = services.authenticate(token)
    assert TelemetryCredential.objects.filter(gateway=gateway).count() == 1
    with django_assert_num_queries(1):
        agent = services.authenticate(token)
        state = services.load_state(agent, metrics_endpoint="http://portal:8000/v1/metrics")
    assert agent.telemetry_authorization == first.telemetry_authorization
    assert agent.telemetry_authorization == credentials.telemetry_credential_for(gateway)
    verified = credentials.verify(credentials.parse_bearer(agent.telemetry_authorization))
    assert verified.gateway.pk == gateway.pk
    assert state.own_metrics == (
        "http://portal:8000/v1/metrics",
        (("Authorization", agent.telemetry_authorization), (offers.METRICS_INTERVAL_HEADER, "15")),
    )


# The transports.


@pytest.mark.django_db(transaction=True)
def test_plain_http_agents_are_offered_the_metrics_endpoint_they_reach(client, token, gateway):
    message = Agent(uid=UID, capabilities=OWN_METRICS_CAPS).message()
    response = client.post(
        "/v1/opamp", message.SerializeToString(), content_type=PROTOBUF, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200, response.content
    own = opamp_pb2.ServerToAgent.FromString(response.content).connection_settings.own_metrics
    assert own.destination_endpoint == "http://testserver/v1/metrics"
    authorization = headers_of(own)["Authorization"]
    assert authorization == credentials.telemetry_credential_for(gateway)
    # The offered credential is accepted by the endpoint it names.
    now = time.time_ns()
    accepted = post(client, authorization, accepted_logs(5, start_ns=now - 10**9, time_ns=now))
    assert accepted.status_code == 200, accepted.content


@pytest.mark.django_db(transaction=True)
def test_the_public_url_setting_names_the_metrics_endpoint(client, token, settings):
    settings.FLOWGATE_OPAMP_PUBLIC_URL = "wss://lb.example.com/flowgate/v1/opamp"
    message = Agent(uid=UID, capabilities=OWN_METRICS_CAPS).message()
    response = client.post(
        "/v1/opamp", message.SerializeToString(), content_type=PROTOBUF, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    own = opamp_pb2.ServerToAgent.FromString(response.content).connection_settings.own_metrics
    assert own.destination_endpoint == "https://lb.example.com/flowgate/v1/metrics"


def next_event(receive, kind):
    """The next event of the servers group with this `event` or `type` (others' events are skipped)."""
    for _ in range(5):
        [event] = receive()
        if kind in (event.get("event"), event.get("type")):
            return event
    raise AssertionError(f"no {kind} event")


def websocket_scenario(token, gateway, after_first):
    """Connect, send a first report with ReportsOwnMetrics, then `after_first(consumer)`: (first reply, pushed)."""

    async def scenario():
        ws = WebsocketCommunicator(
            OpAMPConsumer.as_asgi(),
            "/v1/opamp",
            headers=[(b"authorization", f"Bearer {token}".encode()), (b"host", b"localhost:4320")],
        )
        connected, _ = await ws.connect()
        assert connected
        await ws.send_to(bytes_data=framing.encode(Agent(uid=UID, capabilities=OWN_METRICS_CAPS).message()))
        first = framing.decode(await ws.receive_from(timeout=10), opamp_pb2.ServerToAgent)
        [consumer] = registry.by_gateway[gateway.pk]
        await after_first(consumer)
        try:
            pushed = framing.decode(await ws.receive_from(timeout=10), opamp_pb2.ServerToAgent)
        except TimeoutError:
            pushed = None
        await ws.disconnect()
        return first, pushed

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_a_rotated_credential_is_pushed_to_the_open_websocket(token, gateway, server_process):  # noqa: F811
    async def rotate(consumer):
        await database_sync_to_async(credentials.rotate)(gateway)
        event = await database_sync_to_async(next_event)(server_process, "telemetry_credential_offered")
        assert event == {
            "type": "opamp.gateway_event",
            "event": "telemetry_credential_offered",
            "gateway_ids": [gateway.pk.hex],
        }
        await registry.deliver(event)

    first, pushed = websocket_scenario(token, gateway, rotate)
    own = first.connection_settings.own_metrics
    assert own.destination_endpoint == "http://localhost:4320/v1/metrics"
    old = headers_of(own)["Authorization"]
    assert pushed is not None, "the new credential was not offered"
    new = headers_of(pushed.connection_settings.own_metrics)["Authorization"]
    assert new != old and new == credentials.telemetry_credential_for(gateway)
    assert pushed.connection_settings.hash != first.connection_settings.hash


@pytest.mark.django_db(transaction=True)
def test_a_new_interval_is_pushed_to_the_open_websocket(token, gateway, org, server_process):  # noqa: F811
    async def save(consumer):
        def change():
            row = OrgSettings.objects.get(organization=org)
            row.telemetry_interval_seconds = 10
            row.save()

        await database_sync_to_async(change)()
        event = await database_sync_to_async(next_event)(server_process, "opamp.settings_changed")
        assert event["telemetry_interval_seconds"] == 10
        await registry.deliver(event)

    first, pushed = websocket_scenario(token, gateway, save)
    assert headers_of(first.connection_settings.own_metrics)[offers.METRICS_INTERVAL_HEADER] == "30"
    assert pushed is not None, "the new interval was not offered"
    assert headers_of(pushed.connection_settings.own_metrics)[offers.METRICS_INTERVAL_HEADER] == "10"


@pytest.mark.django_db
def test_the_interval_setting_is_validated_and_editable_by_api(org, api_client):
    row = OrgSettings.objects.get(organization=org)
    assert row.telemetry_interval_seconds == 30
    for bad in (2, 3601, "soon"):
        response = api_client.patch("/api/v1/settings/acme/", {"telemetry_interval_seconds": bad}, format="json")
        assert response.status_code == 400 and "telemetry_interval_seconds" in response.json(), response.content
    response = api_client.patch("/api/v1/settings/acme/", {"telemetry_interval_seconds": 10}, format="json")
    assert response.status_code == 200, response.content
    row.refresh_from_db()
    assert row.telemetry_interval_seconds == 10
