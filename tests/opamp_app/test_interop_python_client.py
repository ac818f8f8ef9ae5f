"""Interoperability: the real `opentelemetry-opamp-client` (PyPI) against a live Daphne over plain HTTP.

The client is used as its README intends: an OpAMPClient (HTTP, `requests`) driven by an
OpAMPAgent (a worker thread sending queued messages, a scheduler thread adding heartbeats)
with our OpAMPCallbacks. The gateway enrolls over HTTP with a registration token and the
client authenticates with the OpAMP token it got, as `Authorization: Bearer …` (the client
accepts extra headers, so the `?token=` fallback is not needed).

What the client (0.5b0) cannot do, and how the test deals with it:
- `OpAMPClient.decode_remote_config()` parses JSON bodies only and raises for `text/yaml`;
  our callback reads the YAML bytes of the AgentRemoteConfig itself.
- Only the full-state message carries the effective config (there is no builder for a status
  report with effective config), so after applying, the callback sends a full state.
- It ignores ConnectionSettingsOffers (our heartbeat interval offer): the heartbeat period is
  the `interval` given to OpAMPAgent.
- It stamps `sequence_num` when a message is built (queued) but counts up when one is sent,
  so two messages queued before the first is sent carry the same number; our server then asks
  for the full state once more (harmless); nothing in this test depends on it.
- Its generated protobuf is package `opamp.proto` (file `opamp.proto`); ours is
  `opamp.proto.v1` (file `opamp_core/proto/opamp.proto`): both load in one process, no clash.
"""

import threading
import time
import uuid

import pytest
import requests
from opentelemetry._opamp.agent import OpAMPAgent
from opentelemetry._opamp.callbacks import OpAMPCallbacks
from opentelemetry._opamp.client import OpAMPClient
from opentelemetry._opamp.proto import opamp_pb2 as client_pb2

from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import assign_desired_config, create_registration_token, revoke_opamp_tokens
from opamp_core.convert import config_hash
from templates_app.services import create_template
from tests.live import Daphne, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(90)]

CONFIG = (
    "receivers:\n  otlp:\n    protocols:\n      http: {}\n"
    "exporters:\n  debug: {}\n"
    "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n"
)
APPLIED = client_pb2.RemoteConfigStatuses_APPLIED
HEARTBEAT_SECONDS = 0.2
WAIT_SECONDS = 20


@pytest.fixture
def daphne():
    server = Daphne([free_port()])
    yield server
    print(server.stop())  # the server's log, shown when a test fails


class ApplyingCallbacks(OpAMPCallbacks):
    """What an agent does with the client: apply a remote config, then report status and effective config."""

    def __init__(self):
        self.configs = []
        self.replies = 0  # server messages received
        self.errors = []
        self.connect_failures = []
        self.connected = threading.Event()

    def on_connect(self, agent, client):
        self.connected.set()

    def on_connect_failed(self, agent, client, error):
        self.connect_failures.append(error)

    def on_error(self, agent, client, error_response):
        self.errors.append(error_response)

    def on_message(self, agent, client, message):
        self.replies += 1
        if message.remote_config is None:
            return
        config_file = message.remote_config.config.config_map[""]
        self.configs.append((config_file.content_type, config_file.body.decode()))
        client.update_effective_config({"": config_file.body.decode()}, config_file.content_type)
        client.update_remote_config_status(message.remote_config.config_hash, APPLIED)
        # One full-state message carries both the APPLIED status and the effective config.
        agent.send(client.build_full_state_message())


def enroll_over_http(daphne, org, alice, name):
    """POST /api/v1/gateways/register with a fresh registration token; the JSON answer."""
    _, registration_jwt = create_registration_token(org, name=f"for {name}", created_by=alice)
    response = requests.post(
        daphne.url + "/api/v1/gateways/register",
        json={"name": name, "hostname": f"{name}.example.com"},
        headers={"Authorization": f"Bearer {registration_jwt}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def start_agent(endpoint, token):
    callbacks = ApplyingCallbacks()
    client = OpAMPClient(
        endpoint=endpoint,
        headers={"Authorization": f"Bearer {token}"},
        timeout_millis=5_000,
        agent_identifying_attributes={"service.name": "py-opamp-agent", "service.version": "0.5b0"},
        agent_non_identifying_attributes={"host.name": "py-agent.example.com", "os.type": "linux"},
    )
    agent = OpAMPAgent(
        interval=HEARTBEAT_SECONDS, callbacks=callbacks, client=client, max_retries=1, initial_backoff=0.1
    )
    agent.start()
    return agent, client, callbacks


def wait_for_gateway(pk, condition, what):
    """Poll the Gateway row until condition(row) holds; fail naming `what` otherwise."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        row = Gateway.objects.get(pk=pk)
        if condition(row):
            return row
        time.sleep(0.05)
    pytest.fail(f"after {WAIT_SECONDS}s the gateway still does not show {what}: {row.__dict__}")


def deploy(org, alice, gateway_pk):
    """Make CONFIG the gateway's desired config, as a deployment's rollout does (assign_desired_config)."""
    template = create_template(org, name="interop", author=alice, config_yaml=CONFIG)
    version = template.versions.get()
    assign_desired_config(Gateway.objects.filter(pk=gateway_pk), version)
    return version


@pytest.fixture
def running_agent(daphne, org, alice):
    enrolled = enroll_over_http(daphne, org, alice, "py-agent")
    agent, client, callbacks = start_agent(enrolled["opamp_endpoints"]["http"], enrolled["opamp_token"])
    yield enrolled, agent, client, callbacks
    agent.stop(timeout=5)


def test_the_python_client_reports_its_description_and_takes_its_uid_to_the_gateway(running_agent):
    enrolled, _, client, callbacks = running_agent
    row = wait_for_gateway(enrolled["gateway_id"], lambda row: row.agent_description, "an agent description")
    assert row.agent_description["identifying_attributes"] == {
        "service.name": "py-opamp-agent",
        "service.version": "0.5b0",
    }
    assert row.agent_description["non_identifying_attributes"]["os.type"] == "linux"
    assert (row.agent_type, row.agent_version, row.hostname) == ("py-opamp-agent", "0.5b0", "py-agent.example.com")
    # The gateway was enrolled without a uid: it takes the one the client generated (UUIDv7).
    assert row.instance_uid == uuid.UUID(bytes=client._instance_uid)
    assert row.status == GatewayStatus.ONLINE
    assert callbacks.errors == [] and callbacks.connect_failures == []


def test_the_python_client_receives_a_deployed_config_on_its_next_poll_and_reports_it_applied(
    running_agent, org, alice
):
    enrolled, _, _, callbacks = running_agent
    wait_for_gateway(enrolled["gateway_id"], lambda row: row.agent_description, "an agent description")
    version = deploy(org, alice, enrolled["gateway_id"])

    row = wait_for_gateway(
        enrolled["gateway_id"], lambda row: row.remote_config_status == "applied" and row.effective_config, "APPLIED"
    )
    assert callbacks.configs == [("text/yaml", CONFIG)]
    assert row.remote_config_hash == version.sha256 == config_hash(CONFIG) == row.desired_config_hash
    assert (row.effective_config, row.effective_config_hash) == (CONFIG, version.sha256)
    assert not row.has_config_drift()


def test_the_python_client_does_not_receive_the_config_again_once_applied(running_agent, org, alice):
    enrolled, _, _, callbacks = running_agent
    wait_for_gateway(enrolled["gateway_id"], lambda row: row.agent_description, "an agent description")
    deploy(org, alice, enrolled["gateway_id"])
    wait_for_gateway(enrolled["gateway_id"], lambda row: row.remote_config_status == "applied", "APPLIED")
    seen = callbacks.replies
    deadline = time.monotonic() + WAIT_SECONDS
    while callbacks.replies < seen + 10 and time.monotonic() < deadline:  # ten more heartbeats answered
        time.sleep(0.05)
    assert callbacks.replies >= seen + 10
    assert len(callbacks.configs) == 1


def test_stopping_the_python_client_marks_the_gateway_offline(running_agent):
    enrolled, agent, _, _ = running_agent
    wait_for_gateway(enrolled["gateway_id"], lambda row: row.status == GatewayStatus.ONLINE, "online")
    agent.stop(timeout=5)  # sends AgentDisconnect
    row = wait_for_gateway(enrolled["gateway_id"], lambda row: row.status == GatewayStatus.OFFLINE, "offline")
    assert row.last_seen is not None


def test_the_python_client_is_refused_once_its_token_is_revoked(daphne, org, alice):
    enrolled = enroll_over_http(daphne, org, alice, "py-revoked")
    revoke_opamp_tokens(Gateway.objects.get(pk=enrolled["gateway_id"]), alice)
    agent, _, callbacks = start_agent(enrolled["opamp_endpoints"]["http"], enrolled["opamp_token"])
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not callbacks.connect_failures and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop(timeout=5)
    # The client turns the HTTP 401 into an OpAMPException naming the status.
    assert "401" in str(callbacks.connect_failures[0])
    assert not callbacks.connected.is_set()
    assert Gateway.objects.get(pk=enrolled["gateway_id"]).agent_description == {}
