"""Per-address admission of OpAMP connections and polls (docs/security.md, "Rate limits and lockout")."""

import pytest
from asgiref.sync import async_to_sync

from opamp_core.proto import opamp_pb2
from tests.opamp_app.handshake import handshake
from tests.opamp_app.peer import Agent
from tests.opamp_app.test_http_transport import post, reply_of

pytestmark = pytest.mark.django_db(transaction=True)

UNAVAILABLE = opamp_pb2.ServerErrorResponseType_Unavailable


def test_handshakes_over_the_rate_are_refused_with_429(token, settings):
    settings.FLOWGATE_OPAMP_CONNECT_RATE = "3/m"
    answers = [async_to_sync(handshake)(token)[:2] for _ in range(4)]
    assert answers == [("accept", None)] * 3 + [("deny", 429)]
    _, _, headers, body = async_to_sync(handshake)(token)
    assert 0 < int(headers["retry-after"]) <= 60
    assert b"Too many" in body


def test_another_address_is_still_admitted(token, settings):
    settings.FLOWGATE_OPAMP_CONNECT_RATE = "1/m"
    async_to_sync(handshake)(token, address="10.0.0.7")
    assert async_to_sync(handshake)(token, address="10.0.0.8")[0] == "accept"


def test_failed_handshakes_are_counted_more_strictly(token, settings):
    settings.FLOWGATE_OPAMP_AUTH_FAILURE_RATE = "3/m"
    answers = [async_to_sync(handshake)("not.a.jwt")[1] for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    # Until the window ends, the address is refused before its token is looked at.
    assert async_to_sync(handshake)(token)[1] == 429


def test_http_polls_over_the_rate_get_429_and_retry_info(client, token, settings):
    settings.FLOWGATE_OPAMP_CONNECT_RATE = "2/m"
    agent = Agent()
    answers = [post(client, token, agent.message()).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    limited = post(client, token, agent.message())
    assert 0 < int(limited["Retry-After"]) <= 60
    reply = reply_of(limited)
    assert reply.error_response.type == UNAVAILABLE
    assert reply.error_response.retry_info.retry_after_nanoseconds > 0


def test_http_polls_with_bad_tokens_are_counted_more_strictly(client, token, settings):
    settings.FLOWGATE_OPAMP_AUTH_FAILURE_RATE = "2/m"
    agent = Agent()
    answers = [post(client, "not.a.jwt", agent.message()).status_code for _ in range(3)]
    assert answers == [401, 401, 429]
    assert post(client, token, agent.message()).status_code == 429
