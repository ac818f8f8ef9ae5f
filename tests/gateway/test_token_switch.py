"""The supervisor's side of token rotation: an offered token is saved, tried, then kept or dropped (no network).

The whole path with the real portal, supervisor and collector: tests/gateway/test_token_rotation_live.py.
"""

import asyncio
import base64
import json

from gateway.opamp_client import TOKEN_CAPABILITIES, OpAMPClient
from gateway.state import StateDir
from gateway.supervisor import Supervisor
from opamp_core.proto import opamp_pb2
from tests.gateway.test_opamp_client import FakeAgent, handle

APPLIED = opamp_pb2.ConnectionSettingsStatuses_APPLIED
APPLYING = opamp_pb2.ConnectionSettingsStatuses_APPLYING
FAILED = opamp_pb2.ConnectionSettingsStatuses_FAILED


class SavingAgent(FakeAgent):
    def __init__(self):
        super().__init__()
        self.saved = []

    def save_connection(self, token, candidate, candidate_url="", urls=None):
        self.saved.append((token, candidate))


def client(agent=None, candidate=""):
    new = OpAMPClient(
        agent or SavingAgent(), instance_uid=b"\x01" * 16, token="old", candidate_token=candidate, ws_url="ws://x"
    )
    new.next_message()
    return new


def offer(token, digest=b"h1"):
    reply = opamp_pb2.ServerToAgent()
    reply.connection_settings.hash = digest
    reply.connection_settings.opamp.heartbeat_interval_seconds = 30
    reply.connection_settings.opamp.headers.headers.add(key="Authorization", value=f"Bearer {token}")
    return reply


def test_an_agent_that_saves_tokens_announces_the_capabilities_and_others_do_not():
    assert client().next_message().capabilities & TOKEN_CAPABILITIES == TOKEN_CAPABILITIES
    plain = OpAMPClient(FakeAgent(), instance_uid=b"\x01" * 16, token="old", ws_url="ws://x")
    assert not plain.next_message().capabilities & TOKEN_CAPABILITIES
    handle(plain, offer("new"))
    assert plain.token == "old" and plain.candidate == ""  # not taken without the capability


def test_an_offered_token_is_saved_as_candidate_reported_applying_then_applied_once_accepted():
    c = client()
    handle(c, offer("new"))
    assert c.agent.saved == [("old", "new")] and c.switching  # saved before reconnecting
    status = c.next_message().connection_settings_status
    assert (status.last_connection_settings_hash, status.status) == (b"h1", APPLYING)
    c._connected_with("new")  # the server accepted the handshake with it
    assert (c.token, c.candidate) == ("new", "") and c.agent.saved[-1] == ("new", "")
    assert c.next_message().connection_settings_status.status == APPLIED


def test_a_refused_candidate_is_dropped_and_reported_failed():
    c = client()
    handle(c, offer("new"))
    c._candidate_refused(401)
    assert (c.token, c.candidate) == ("old", "") and c.agent.saved[-1] == ("old", "")
    status = c.next_message().connection_settings_status
    assert status.status == FAILED and "401" in status.error_message


def test_the_same_offer_again_changes_nothing():
    c = client()
    handle(c, offer("new"))
    c._connected_with("new")
    c.next_message()
    handle(c, offer("new"))
    assert not c.switching and not c.dirty


def test_a_candidate_saved_before_a_crash_is_tried_first(tmp_path):
    c = client(candidate="new")
    assert c.candidate == "new"
    c._connected_with("new")
    assert c.token == "new"


def test_the_supervisor_persists_both_tokens_in_its_state_directory(tmp_path):
    state = StateDir(tmp_path / "state")
    supervisor = Supervisor.__new__(Supervisor)
    supervisor.state = state
    supervisor.identity = state.new_identity()
    supervisor.identity.opamp_token = "old"
    supervisor.save_connection("old", "new")
    assert state.load_identity().opamp_token_candidate == "new"
    new = "e30." + base64.urlsafe_b64encode(b'{"exp": 1893456000}').decode().rstrip("=") + ".sig"
    supervisor.save_connection(new, "")
    saved = json.loads((tmp_path / "state" / "identity.json").read_text())
    assert (saved["opamp_token"], saved["opamp_token_candidate"]) == (new, "")
    assert saved["opamp_token_expires_at"] == "2030-01-01T00:00:00+00:00"
    assert (tmp_path / "state" / "identity.json").stat().st_mode & 0o777 == 0o600
    assert not [path for path in (tmp_path / "state").iterdir() if path.name.startswith(".identity")]


def test_the_http_transport_switches_on_its_next_request():
    c = client()
    c.transport = "http"
    sent = []

    def post(message, token):
        sent.append((token, message.connection_settings_status.status))
        if len(sent) == 1:
            return offer("new")
        c.stopping.set()
        return opamp_pb2.ServerToAgent()

    c._post = post
    asyncio.run(c._http_session())
    assert sent[0][0] == "old" and sent[1] == ("new", APPLYING)
    assert c.token == "new"
