"""The OpAMP plain-HTTP transport (POST /v1/opamp), through Django's test client.

The view runs its database work in worker threads, so the tests commit their data
(`transaction=True`) like a real server would see it.
"""

import gzip
import uuid

import pytest

from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import assign_desired_config
from opamp_app import services
from opamp_core.convert import config_hash
from opamp_core.proto import opamp_pb2
from templates_app.services import create_template
from tests.opamp_app.conftest import BAD_TOKENS
from tests.opamp_app.peer import CONFIG_CAPS, Agent, description, remote_status

pytestmark = pytest.mark.django_db(transaction=True)

PROTOBUF = "application/x-protobuf"
FULL_STATE = opamp_pb2.ServerToAgentFlags_ReportFullState
CONFIG = "receivers:\n  otlp: {}\nexporters:\n  debug: {}\n"


def post(client, token, body, path="/v1/opamp", content_type=PROTOBUF, **headers):
    """POST a body (an AgentToServer or raw bytes) like an OpAMP HTTP client; headers as Content_Encoding=..."""
    if not isinstance(body, bytes):
        body = body.SerializeToString()
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(path, body, content_type=content_type, headers=headers)


def reply_of(response):
    assert response["Content-Type"] == PROTOBUF, response.content
    body = response.content
    if response.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return opamp_pb2.ServerToAgent.FromString(body)


@pytest.fixture
def agent():
    return Agent(capabilities=CONFIG_CAPS)


def test_a_report_is_answered_with_a_protobuf_reply_and_recorded(client, token, agent, gateway):
    response = post(client, token, agent.message(agent_description=description(host="http-gw")))
    assert response.status_code == 200
    assert reply_of(response).instance_uid == agent.uid
    row = Gateway.objects.get(pk=gateway.pk)
    assert (row.instance_uid, row.hostname, row.status) == (uuid.UUID(bytes=agent.uid), "http-gw", GatewayStatus.ONLINE)


def test_the_api_path_and_a_query_token_work_too(client, token, agent):
    response = post(client, None, agent.message(), path=f"/api/v1/opamp/v1/opamp?token={token}")
    assert reply_of(response).instance_uid == agent.uid


def test_a_gzipped_request_is_read_and_the_reply_gzipped_when_accepted(client, token, agent):
    body = gzip.compress(agent.message().SerializeToString())
    response = post(client, token, body, Content_Encoding="gzip", Accept_Encoding="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert reply_of(response).instance_uid == agent.uid


def test_the_reply_is_not_gzipped_unless_accepted(client, token, agent):
    response = post(client, token, agent.message())
    assert "Content-Encoding" not in response


def test_a_gzip_bomb_is_refused_with_413_without_inflating_it(client, token):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB
    response = post(client, token, bomb, Content_Encoding="gzip")
    assert response.status_code == 413
    assert b"limit" in response.content


def test_a_body_over_the_limit_is_refused_with_413(client, token, agent, settings):
    settings.FLOWGATE_OPAMP_MAX_MESSAGE_BYTES = 1000
    response = post(client, token, agent.message(agent_description=description(host="h" * 2000)))
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"\x0a\x10\x01", b"\xff\xff\xff"])
def test_a_malformed_protobuf_gets_400_with_bad_request(client, token, body):
    response = post(client, token, body)
    assert response.status_code == 400
    error = reply_of(response).error_response
    assert error.type == opamp_pb2.ServerErrorResponseType_BadRequest
    assert "invalid AgentToServer protobuf" in error.error_message


def test_a_broken_gzip_body_gets_400(client, token, agent):
    body = gzip.compress(agent.message().SerializeToString())[:-6]
    response = post(client, token, body, Content_Encoding="gzip")
    assert response.status_code == 400
    assert "gzip" in reply_of(response).error_response.error_message


def test_a_wrong_uid_length_gets_400_with_bad_request(client, token, agent):
    response = post(client, token, agent.message(instance_uid=b"short"))
    assert response.status_code == 400
    assert "16 bytes" in reply_of(response).error_response.error_message


def test_another_content_type_gets_415(client, token, agent):
    response = post(client, token, agent.message(), content_type="application/json")
    assert response.status_code == 415
    assert PROTOBUF in response.content.decode()


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_bad_token_gets_401_with_a_plain_message(client, agent, gateway, kind):
    make, reason = BAD_TOKENS[kind]
    response = post(client, make(gateway), agent.message())
    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert f"OpAMP token refused: {reason}" in response.content.decode()


def test_a_get_is_not_allowed(client, token):
    assert client.get("/v1/opamp", headers={"Authorization": f"Bearer {token}"}).status_code == 405


def test_the_pending_config_is_delivered_on_the_next_poll_and_applied(client, token, agent, org, alice, gateway):
    assert not reply_of(post(client, token, agent.message())).HasField("remote_config")
    template = create_template(org, name="http", author=alice, config_yaml=CONFIG)
    assign_desired_config(Gateway.objects.filter(pk=gateway.pk), template.versions.get())  # a rollout batch

    pushed = reply_of(post(client, token, agent.message())).remote_config
    assert pushed.config.config_map[""].body.decode() == CONFIG
    applied = remote_status(config_hash(CONFIG), opamp_pb2.RemoteConfigStatuses_APPLIED)
    post(client, token, agent.message(remote_config_status=applied))
    assert Gateway.objects.get(pk=gateway.pk).remote_config_status == "applied"


def test_sequence_numbers_are_followed_across_polls(client, token, agent):
    assert reply_of(post(client, token, agent.message())).flags & FULL_STATE  # nothing known yet
    assert not reply_of(post(client, token, agent.message())).flags & FULL_STATE
    agent.sequence_num += 2
    assert reply_of(post(client, token, agent.message())).flags & FULL_STATE


def test_a_poll_that_reports_nothing_new_writes_nothing(client, token, agent, monkeypatch):
    post(client, token, agent.message(agent_description=description()))
    writes = []
    monkeypatch.setattr(services, "save_changes", lambda *args: writes.append(args))
    monkeypatch.setattr(services, "save_result", lambda *args, **kwargs: writes.append(args))
    assert post(client, token, opamp_pb2.AgentToServer(instance_uid=agent.uid)).status_code == 200
    assert writes == []


def test_agent_disconnect_over_http_marks_the_gateway_offline(client, token, agent, gateway):
    post(client, token, agent.message())
    post(client, token, agent.message(agent_disconnect=opamp_pb2.AgentDisconnect()))
    assert Gateway.objects.get(pk=gateway.pk).status == GatewayStatus.OFFLINE
