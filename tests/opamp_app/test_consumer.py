"""The consumer alone (Channels' WebsocketCommunicator, no server): what it does where Daphne does not help."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from opamp_app.consumers import OpAMPConsumer

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(token=None):
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return WebsocketCommunicator(OpAMPConsumer.as_asgi(), "/v1/opamp", headers=headers)


def test_without_the_denial_extension_a_bad_token_closes_before_accepting():
    # What any ASGI server without "websocket.http.response" turns into its own refusal (Daphne: 403).
    async def scenario():
        connected, code = await communicator().connect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 1000)


def test_a_message_over_the_setting_is_closed_with_1009_even_when_the_server_lets_it_through(token, settings):
    settings.FLOWGATE_OPAMP_MAX_MESSAGE_BYTES = 100

    async def scenario():
        ws = communicator(token)
        connected, _ = await ws.connect()
        await ws.send_to(bytes_data=b"\x00" + b"\x12" * 200)
        output = await ws.receive_output(timeout=5)
        await ws.disconnect()
        return connected, output

    connected, output = async_to_sync(scenario)()
    assert connected
    assert output == {"type": "websocket.close", "code": 1009}
