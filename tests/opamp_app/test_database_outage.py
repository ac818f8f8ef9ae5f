"""A database outage during OpAMP authentication: 503 + Retry-After and UNAVAILABLE, never a 500 or a 401."""

import pytest
from asgiref.sync import async_to_sync

from opamp_core.proto import opamp_pb2
from tests.opamp_app.handshake import handshake
from tests.opamp_app.peer import Agent
from tests.opamp_app.test_http_transport import post, reply_of

pytestmark = pytest.mark.django_db(transaction=True)

UNAVAILABLE = opamp_pb2.ServerErrorResponseType_Unavailable


def test_an_http_poll_gets_503_and_unavailable_with_retry_info(client, token, database_down, settings):
    settings.FLOWGATE_OPAMP_RETRY_AFTER_SECONDS = 45
    agent = Agent()
    response = post(client, token, agent.message())
    assert response.status_code == 503
    assert response["Retry-After"] == "45"
    reply = reply_of(response)
    assert reply.error_response.type == UNAVAILABLE
    assert reply.error_response.retry_info.retry_after_nanoseconds == 45 * 10**9


def test_a_websocket_handshake_is_refused_with_503(token, database_down, settings):
    settings.FLOWGATE_OPAMP_RETRY_AFTER_SECONDS = 45
    kind, status, headers, _ = async_to_sync(handshake)(token)
    assert (kind, status, headers.get("retry-after")) == ("deny", 503, "45")
