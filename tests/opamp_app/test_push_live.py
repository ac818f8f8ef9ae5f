"""Changes made in another process reach the connected agent: deployments, revocations, restarts, settings.

The test process and the live server are separate processes that meet in PostgreSQL and Redis (the
channel layer), as in production. Pushes from the Celery worker's rollout ticks: tests/deployments_app/
test_rollout_live.py.
"""

import time
import uuid

import pytest
from django.utils import timezone
from websockets.exceptions import ConnectionClosed

from core_app.services import get_org_settings
from gateways_app.models import Gateway, GatewayStatus, OpAMPToken
from gateways_app.services import assign_desired_config, revoke_opamp_tokens
from opamp_app import push
from opamp_core.convert import config_hash
from opamp_core.proto import opamp_pb2
from templates_app.services import create_template
from tests.opamp_app.conftest import WS_CAPS, WsAgent, make_token, open_ws
from tests.opamp_app.peer import remote_status
from tests.opamp_app.test_websocket_live import wait_for_row

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(90)]

CONFIG = "receivers:\n  otlp:\n    protocols:\n      grpc: {}\nexporters:\n  debug: {}\n"
APPLIED = opamp_pb2.RemoteConfigStatuses_APPLIED


def deploy(org, alice, gateway, config=CONFIG):
    """What a deployment (its rollout batch) does to the gateway: the one seam that sets desired configs."""
    template = create_template(org, name=f"t-{uuid.uuid4().hex[:6]}", author=alice, config_yaml=config)
    assign_desired_config(Gateway.objects.filter(pk=gateway.pk), template.versions.get())


def test_a_deployment_pushes_the_config_to_the_connected_agent_which_reports_it_applied(ws_agent, org, alice, gateway):
    ws_agent.send()
    deploy(org, alice, gateway)
    pushed = ws_agent.receive(timeout=5).remote_config
    assert pushed.config.config_map[""].body.decode() == CONFIG
    assert pushed.config.config_map[""].content_type == "text/yaml"

    ws_agent.send(remote_config_status=remote_status(pushed.config_hash.hex(), APPLIED))
    row = Gateway.objects.get(pk=gateway.pk)
    assert (row.remote_config_status, row.remote_config_hash) == ("applied", config_hash(CONFIG))
    assert not row.has_config_drift()


def test_an_agent_that_does_not_accept_remote_config_gets_no_push(daphne, token, org, alice, gateway):
    agent = WsAgent(open_ws(daphne, token), capabilities=WS_CAPS & ~opamp_pb2.AgentCapabilities_AcceptsRemoteConfig)
    try:
        agent.send()
        deploy(org, alice, gateway)
        with pytest.raises(TimeoutError):
            agent.receive(timeout=1.5)
    finally:
        agent.close()


def test_revoking_the_token_closes_the_open_connection_within_5_seconds(ws_agent, alice, gateway):
    ws_agent.send()
    revoked_at = time.monotonic()
    revoke_opamp_tokens(gateway, alice)
    with pytest.raises(ConnectionClosed) as closed:
        ws_agent.receive(timeout=5)
    assert time.monotonic() - revoked_at < 5
    assert closed.value.rcvd.code == 1008
    wait_for_row(gateway.pk, lambda row: row.status == GatewayStatus.OFFLINE)


def test_a_token_revoked_behind_the_servers_back_still_closes_the_connection_within_5_seconds(ws_agent, gateway):
    ws_agent.send()
    # No signal, no channel-layer message: only the server's periodic token check can notice.
    OpAMPToken.objects.filter(gateway=gateway).update(revoked_at=timezone.now())
    with pytest.raises(ConnectionClosed):
        ws_agent.receive(timeout=5)


def test_revoking_another_token_of_the_gateway_keeps_the_connection(ws_agent, gateway):
    ws_agent.send()
    other = OpAMPToken.objects.create(gateway=gateway, jti="other", issued_at=timezone.now(), expires_at=timezone.now())
    push.notify_tokens_revoked(gateway.pk)  # what revoking `other` signals
    other.delete()
    assert ws_agent.send().instance_uid == ws_agent.uid


def test_a_restart_request_reaches_an_agent_that_accepts_restarts(daphne, token, gateway):
    agent = WsAgent(open_ws(daphne, token), capabilities=WS_CAPS | opamp_pb2.AgentCapabilities_AcceptsRestartCommand)
    try:
        agent.send()
        push.request_restart(gateway.pk)
        command = agent.receive(timeout=5).command
    finally:
        agent.close()
    assert command.type == opamp_pb2.CommandType_Restart


def test_a_changed_heartbeat_interval_reaches_the_organizations_connected_agents(daphne, ws_agent, org, other_org):
    stranger = Gateway.objects.create(organization=other_org, name="globex-gw")
    bystander = WsAgent(open_ws(daphne, make_token(stranger)))
    try:
        assert ws_agent.send().connection_settings.opamp.heartbeat_interval_seconds == 30
        bystander.send()
        row = get_org_settings(org)
        row.heartbeat_interval_seconds = 45
        row.save()  # as the settings page, the API and the admin do
        offer = ws_agent.receive(timeout=5).connection_settings
        assert offer.opamp.heartbeat_interval_seconds == 45 and offer.hash
        row.save()  # saved again, unchanged: nothing more to offer
        with pytest.raises(TimeoutError):
            ws_agent.receive(timeout=1.5)
        with pytest.raises(TimeoutError):
            bystander.receive(timeout=0.5)  # another organization's agent
    finally:
        bystander.close()
