"""OpAMPConnectionSettings.destination_endpoint: every `opamp` offer names the URL the agent reaches us through.

The spec: it MUST be a non-empty WebSocket or HTTP URL; opamp-go clients and the contrib supervisor
refuse settings without it. FLOWGATE_OPAMP_PUBLIC_URL when set, else the agent's own connection
(Host header; https/wss only for TLS or the configured SECURE_PROXY_SSL_HEADER).
"""

from dataclasses import replace

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from core_app import agent_urls
from opamp_app.consumers import OpAMPConsumer
from opamp_core import framing, offers, protocol
from opamp_core.proto import opamp_pb2
from tests.opamp_app.peer import BASE_CAPS, Agent, Server

Caps = opamp_pb2.AgentCapabilities
HEARTBEAT_CAPS = BASE_CAPS | Caps.AgentCapabilities_ReportsHeartbeat
PROTOBUF = "application/x-protobuf"
UID = bytes(range(16))  # one agent for every message of a test (another uid would be told to switch)


# The pure core: the endpoint the transport gives goes into every opamp part, and into the hash.


def test_the_heartbeat_offer_names_the_endpoint():
    server = Server(replace(Server().state, opamp_endpoint="wss://opamp.example.com/v1/opamp"))
    reply = server.receive(Agent(capabilities=HEARTBEAT_CAPS).message()).reply
    assert reply.connection_settings.opamp.destination_endpoint == "wss://opamp.example.com/v1/opamp"
    assert reply.connection_settings.opamp.heartbeat_interval_seconds == 30


def test_the_token_offer_names_the_endpoint_too():
    state = replace(
        Server().state, opamp_endpoint="ws://portal:4320/v1/opamp", opamp_headers=offers.bearer_headers("new")
    )
    caps = BASE_CAPS | Caps.AgentCapabilities_AcceptsOpAMPConnectionSettings
    opamp = Server(state).receive(Agent(capabilities=caps).message()).reply.connection_settings.opamp
    assert opamp.destination_endpoint == "ws://portal:4320/v1/opamp"
    assert [(h.key, h.value) for h in opamp.headers.headers] == [("Authorization", "Bearer new")]


def test_the_cached_offers_follow_the_endpoint():
    # The cache is keyed on capability bits and values: two endpoints are two offers with two hashes.
    first = offers.offer(HEARTBEAT_CAPS, 30, (), "ws://a/v1/opamp")
    second = offers.offer(HEARTBEAT_CAPS, 30, (), "ws://b/v1/opamp")
    assert first[1]["opamp"]["destination_endpoint"] == "ws://a/v1/opamp"
    assert second[1]["opamp"]["destination_endpoint"] == "ws://b/v1/opamp"
    assert first[0] != second[0]
    assert protocol.settings_hash(30, (), "ws://a/v1/opamp") == first[0]


def test_an_agent_without_offers_gets_no_endpoint_either():
    server = Server(replace(Server().state, opamp_endpoint="ws://a/v1/opamp"))
    assert not server.receive(Agent(capabilities=BASE_CAPS).message()).reply.HasField("connection_settings")


# The URL logic (core_app/agent_urls.py), shared with other agent endpoints (own telemetry).


@pytest.mark.parametrize(
    "value",
    ["ftp://x/v1/opamp", "opamp.example.com", "wss:///v1/opamp", "https://x/v1/opamp?a=1", "http://x:port/"],
)
def test_a_bad_public_url_is_refused_at_start(settings, value):
    settings.FLOWGATE_OPAMP_PUBLIC_URL = value
    with pytest.raises(ImproperlyConfigured, match="FLOWGATE_OPAMP_PUBLIC_URL"):
        apps.get_app_config("opamp_app").ready()


@pytest.mark.parametrize(
    "value", ["", "wss://opamp.example.com/v1/opamp", "http://10.0.0.5:4320", "https://lb.example.com/flowgate/"]
)
def test_good_public_urls_are_accepted(value):
    agent_urls.check_public_url(value)


def test_the_public_url_gives_each_transport_its_scheme_and_the_base_url_for_other_endpoints(settings):
    settings.FLOWGATE_OPAMP_PUBLIC_URL = "wss://lb.example.com:8443/flowgate/v1/opamp"
    ws = agent_urls.opamp_endpoint(websocket=True, secure=False, host="ignored")
    http = agent_urls.opamp_endpoint(websocket=False, secure=False, host="ignored")
    assert (ws, http) == (
        "wss://lb.example.com:8443/flowgate/v1/opamp",
        "https://lb.example.com:8443/flowgate/v1/opamp",
    )
    assert agent_urls.base_url(secure=False, host="ignored") + "/v1/metrics" == (
        "https://lb.example.com:8443/flowgate/v1/metrics"
    )
    settings.FLOWGATE_OPAMP_PUBLIC_URL = "http://10.0.0.5:4320"  # no path: the default OpAMP path
    assert agent_urls.opamp_endpoint(websocket=True, secure=True, host="x") == "ws://10.0.0.5:4320/v1/opamp"


# The transports: plain HTTP (Django's request) and WebSocket (the consumer's scope).


def post_poll(client, token, **extra):
    message = Agent(uid=UID, capabilities=HEARTBEAT_CAPS).message()
    response = client.post(
        "/v1/opamp", message.SerializeToString(), content_type=PROTOBUF, HTTP_AUTHORIZATION=f"Bearer {token}", **extra
    )
    assert response.status_code == 200, response.content
    return opamp_pb2.ServerToAgent.FromString(response.content).connection_settings.opamp.destination_endpoint


@pytest.mark.django_db(transaction=True)
class TestPlainHttp:
    def test_derived_from_the_host_the_agent_sent(self, client, token, settings):
        settings.ALLOWED_HOSTS = ["opamp.internal"]
        assert post_poll(client, token, HTTP_HOST="opamp.internal:8000") == "http://opamp.internal:8000/v1/opamp"

    def test_https_when_the_request_is_tls(self, client, token):
        assert post_poll(client, token, secure=True) == "https://testserver/v1/opamp"

    def test_https_behind_a_proxy_only_with_the_configured_header(self, client, token, settings):
        proxied = {"HTTP_HOST": "testserver", "HTTP_X_FORWARDED_PROTO": "https"}
        assert post_poll(client, token, **proxied) == "https://testserver/v1/opamp"
        settings.SECURE_PROXY_SSL_HEADER = None  # not configured: the header is anyone's to send
        assert post_poll(client, token, **proxied) == "http://testserver/v1/opamp"

    def test_the_public_url_setting_wins(self, client, token, settings):
        settings.FLOWGATE_OPAMP_PUBLIC_URL = "wss://opamp.example.com/v1/opamp"
        assert post_poll(client, token, HTTP_X_FORWARDED_HOST="evil.example") == "https://opamp.example.com/v1/opamp"


def ws_endpoint(token, headers=(), scheme=None):
    """The destination_endpoint offered on the first message of a WebSocket (the consumer, no server)."""

    async def scenario():
        ws = WebsocketCommunicator(
            OpAMPConsumer.as_asgi(), "/v1/opamp", headers=[(b"authorization", f"Bearer {token}".encode()), *headers]
        )
        ws.scope["server"] = ("10.0.0.9", 4320)
        if scheme:
            ws.scope["scheme"] = scheme
        connected, _ = await ws.connect()
        assert connected
        await ws.send_to(bytes_data=framing.encode(Agent(uid=UID, capabilities=HEARTBEAT_CAPS).message()))
        reply = framing.decode(await ws.receive_from(timeout=10), opamp_pb2.ServerToAgent)
        await ws.disconnect()
        return reply.connection_settings.opamp.destination_endpoint

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
class TestWebSocket:
    def test_derived_from_the_host_header(self, token, settings):
        settings.ALLOWED_HOSTS = ["flowgate.example.com"]
        assert (
            ws_endpoint(token, [(b"host", b"flowgate.example.com:4320")]) == "ws://flowgate.example.com:4320/v1/opamp"
        )

    def test_wss_when_the_connection_is_tls(self, token):
        assert ws_endpoint(token, [(b"host", b"localhost:4320")], scheme="wss") == "wss://localhost:4320/v1/opamp"

    def test_wss_behind_a_proxy_only_with_the_configured_header(self, token, settings):
        proxied = [(b"host", b"localhost"), (b"x-forwarded-proto", b"https")]
        assert ws_endpoint(token, proxied) == "wss://localhost/v1/opamp"
        settings.SECURE_PROXY_SSL_HEADER = None
        assert ws_endpoint(token, proxied) == "ws://localhost/v1/opamp"

    def test_a_host_outside_allowed_hosts_is_not_offered(self, token, settings):
        settings.ALLOWED_HOSTS = ["flowgate.example.com"]
        assert ws_endpoint(token, [(b"host", b"evil.example")]) == "ws://10.0.0.9:4320/v1/opamp"

    def test_the_public_url_setting_wins(self, token, settings):
        settings.FLOWGATE_OPAMP_PUBLIC_URL = "https://opamp.example.com/v1/opamp"
        assert ws_endpoint(token, [(b"host", b"localhost")]) == "wss://opamp.example.com/v1/opamp"
