"""The supervisor's side of OpAMPConnectionSettings.destination_endpoint: keep, switch, fall back, refuse.

Offers name the endpoint (the spec makes it mandatory). The same endpoint changes nothing; another
one is saved as a candidate with the token, tried, then kept or dropped (FAILED with the reason).
The whole path with the real portal, supervisor and collector: test_endpoint_switch_live.py.
"""

import asyncio
import json

import pytest

from gateway.opamp_client import SwitchToken
from gateway.state import StateDir
from gateway.supervisor import Supervisor
from opamp_core.proto import opamp_pb2
from tests.gateway.test_opamp_client import handle
from tests.gateway.test_token_switch import SavingAgent
from tests.live import free_port

APPLIED = opamp_pb2.ConnectionSettingsStatuses_APPLIED
APPLYING = opamp_pb2.ConnectionSettingsStatuses_APPLYING
FAILED = opamp_pb2.ConnectionSettingsStatuses_FAILED


class RecordingAgent(SavingAgent):
    """Records every save_connection() call in full."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def save_connection(self, token, candidate, candidate_url="", urls=None):
        super().save_connection(token, candidate, candidate_url, urls)
        self.calls.append({"token": token, "candidate": candidate, "candidate_url": candidate_url, "urls": urls})


def client(ws_url="ws://portal:8000/v1/opamp", http_url="http://portal:8000/v1/opamp", transport="websocket"):
    from gateway.opamp_client import OpAMPClient

    new = OpAMPClient(
        RecordingAgent(), instance_uid=b"\x01" * 16, token="old", ws_url=ws_url, http_url=http_url, transport=transport
    )
    new.next_message()
    return new


def offer(endpoint, digest=b"h1", token=""):
    reply = opamp_pb2.ServerToAgent()
    reply.connection_settings.hash = digest
    reply.connection_settings.opamp.heartbeat_interval_seconds = 30
    reply.connection_settings.opamp.destination_endpoint = endpoint
    if token:
        reply.connection_settings.opamp.headers.headers.add(key="Authorization", value=f"Bearer {token}")
    return reply


@pytest.mark.parametrize(
    "endpoint", ["ws://portal:8000/v1/opamp", "WS://Portal:8000/v1/opamp/", "http://portal:8000/v1/opamp"]
)
def test_the_current_endpoint_offered_changes_nothing(endpoint):
    c = client()
    handle(c, offer(endpoint))
    assert not c.switching and c.candidate_url == "" and c.agent.calls == []
    status = c.next_message().connection_settings_status
    assert (status.last_connection_settings_hash, status.status) == (b"h1", APPLIED)


def test_default_ports_count_as_the_same_endpoint():
    c = client(ws_url="wss://portal.example.com:443/v1/opamp")
    handle(c, offer("wss://portal.example.com/v1/opamp"))
    assert not c.switching and c.agent.calls == []


def test_another_endpoint_is_saved_with_the_token_tried_and_kept_once_it_works():
    c = client()
    handle(c, offer("wss://opamp.example.com/v1/opamp", token="new"))
    # Saved before reconnecting, in one write with the candidate token.
    assert c.agent.calls == [
        {"token": "old", "candidate": "new", "candidate_url": "wss://opamp.example.com/v1/opamp", "urls": None}
    ]
    assert c.switching and c.target_url() == "wss://opamp.example.com/v1/opamp"
    assert c.next_message().connection_settings_status.status == APPLYING
    c._connected_with("new", "wss://opamp.example.com/v1/opamp")
    assert (c.ws_url, c.http_url) == ("wss://opamp.example.com/v1/opamp", "https://opamp.example.com/v1/opamp")
    assert (c.token, c.candidate, c.candidate_url) == ("new", "", "")
    assert c.agent.calls[-1] == {
        "token": "new",
        "candidate": "",
        "candidate_url": "",
        "urls": ("wss://opamp.example.com/v1/opamp", "https://opamp.example.com/v1/opamp"),
    }
    assert c.next_message().connection_settings_status.status == APPLIED


def test_an_http_client_keeps_its_transport_on_a_websocket_endpoint():
    c = client(transport="http")
    handle(c, offer("wss://opamp.example.com/v1/opamp"))
    assert c.target_url() == "https://opamp.example.com/v1/opamp"


def test_the_same_endpoint_offer_again_while_switching_changes_nothing():
    c = client()
    handle(c, offer("ws://other:8000/v1/opamp"))
    calls = len(c.agent.calls)
    handle(c, offer("ws://other:8000/v1/opamp"))
    assert len(c.agent.calls) == calls and c.candidate_url == "ws://other:8000/v1/opamp"


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("ftp://portal/v1/opamp", "not a WebSocket or HTTP URL"),
        ("portal:8000", "not a WebSocket or HTTP URL"),
        ("http://portal:x/v1/opamp", "not a URL"),
    ],
)
def test_an_endpoint_that_is_not_websocket_or_http_is_refused_token_and_all(endpoint, reason):
    c = client()
    handle(c, offer(endpoint, token="new"))
    assert c.agent.calls == [] and not c.switching and (c.token, c.candidate) == ("old", "")
    status = c.next_message().connection_settings_status
    assert status.status == FAILED and reason in status.error_message


def test_an_endpoint_that_would_drop_tls_is_refused():
    c = client(ws_url="wss://portal.example.com/v1/opamp", http_url="https://portal.example.com/v1/opamp")
    handle(c, offer("ws://portal.example.com/v1/opamp"))
    assert c.agent.calls == [] and c.target_url() == "wss://portal.example.com/v1/opamp"
    status = c.next_message().connection_settings_status
    assert status.status == FAILED and "would drop TLS" in status.error_message


@pytest.mark.parametrize("transport", ["websocket", "http"])
def test_an_unreachable_endpoint_is_dropped_and_reported_failed(transport):
    c = client(transport=transport)
    dead = f"ws://127.0.0.1:{free_port()}/v1/opamp"  # nothing listens there
    handle(c, offer(dead, token="new"))
    assert c.candidate_url == dead

    async def connect_once():
        session = c._http_session() if transport == "http" else c._ws_session()
        with pytest.raises(SwitchToken):
            await session

    asyncio.run(connect_once())
    assert (c.candidate, c.candidate_url, c.token) == ("", "", "old")
    assert c.target_url() == c.current_url and c.agent.calls[-1]["candidate_url"] == ""
    status = c.next_message().connection_settings_status
    assert status.status == FAILED and "could not connect to the offered endpoint" in status.error_message


def test_the_supervisor_persists_the_candidate_endpoint_and_the_new_endpoints_atomically(tmp_path):
    state = StateDir(tmp_path / "state")
    supervisor = Supervisor.__new__(Supervisor)
    supervisor.state = state
    supervisor.identity = state.new_identity()
    supervisor.identity.opamp_token = "old"
    supervisor.identity.opamp_ws_url = "ws://portal:8000/v1/opamp"
    supervisor.save_connection("old", "new", candidate_url="wss://opamp.example.com/v1/opamp")
    saved = state.load_identity()
    assert (saved.opamp_token_candidate, saved.opamp_url_candidate) == ("new", "wss://opamp.example.com/v1/opamp")
    assert saved.opamp_ws_url == "ws://portal:8000/v1/opamp"  # not before it worked
    urls = ("wss://opamp.example.com/v1/opamp", "https://opamp.example.com/v1/opamp")
    supervisor.save_connection("new", "", candidate_url="", urls=urls)
    saved = json.loads((tmp_path / "state" / "identity.json").read_text())
    assert (saved["opamp_ws_url"], saved["opamp_http_url"], saved["opamp_url_candidate"]) == (*urls, "")


def test_a_candidate_endpoint_saved_before_a_crash_is_tried_first(tmp_path):
    from gateway.config import Settings

    state = StateDir(tmp_path / "state")
    supervisor = Supervisor.__new__(Supervisor)
    supervisor.state, supervisor.settings = state, Settings()
    supervisor.identity = state.new_identity()
    supervisor.identity.opamp_ws_url = "ws://portal:8000/v1/opamp"
    supervisor.identity.opamp_url_candidate = "ws://other:4320/v1/opamp"
    assert supervisor._new_client().target_url() == "ws://other:4320/v1/opamp"
