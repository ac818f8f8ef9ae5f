"""WebSocket message size limits on a live server: FLOWGATE_OPAMP_MAX_MESSAGE_BYTES, not Daphne's 1 MiB."""

import pytest
from websockets.exceptions import ConnectionClosedError

from gateways_app.models import Gateway
from opamp_core.convert import config_hash
from tests.live import Daphne, free_port
from tests.opamp_app.conftest import WsAgent, open_ws
from tests.opamp_app.peer import effective_config

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(60)]

SMALL_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def small_limit_server(django_db_setup, redis_prefix):
    server = Daphne([free_port()], FLOWGATE_OPAMP_MAX_MESSAGE_BYTES=SMALL_LIMIT)
    yield server
    server.stop()


def config_of(size):
    return "# " + "x" * (size - 3) + "\n"


def test_a_message_over_the_configured_limit_closes_the_connection_with_1009(small_limit_server, token):
    agent = WsAgent(open_ws(small_limit_server, token))
    with pytest.raises(ConnectionClosedError) as closed:
        agent.send(effective_config=effective_config(config_of(SMALL_LIMIT)))
    assert closed.value.rcvd.code == 1009


def test_a_message_under_the_configured_limit_is_processed(small_limit_server, token, gateway):
    agent = WsAgent(open_ws(small_limit_server, token))
    try:
        agent.send(effective_config=effective_config(config_of(SMALL_LIMIT - 100)))
    finally:
        agent.close()
    assert len(Gateway.objects.get(pk=gateway.pk).effective_config) == SMALL_LIMIT - 100


def test_the_default_limit_accepts_messages_over_daphnes_own_1_mib(ws_agent, gateway):
    config = config_of(2 * 1024 * 1024)
    ws_agent.send(effective_config=effective_config(config))
    # The whole message arrived (its hash is of all of it); the stored text is cut at its own bound.
    assert Gateway.objects.get(pk=gateway.pk).effective_config_hash == config_hash(config)
