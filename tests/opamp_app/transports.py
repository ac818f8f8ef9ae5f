"""Send AgentToServer messages over either transport, in-process: for tests that run on both."""

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from opamp_app.consumers import OpAMPConsumer
from opamp_core import framing
from opamp_core.proto import opamp_pb2

PROTOBUF = "application/x-protobuf"


def over_websocket(token, messages):
    """Send the messages on one WebSocket (the consumer, no server); the replies."""

    async def scenario():
        headers = [(b"authorization", f"Bearer {token}".encode())]
        ws = WebsocketCommunicator(OpAMPConsumer.as_asgi(), "/v1/opamp", headers=headers)
        connected, _ = await ws.connect()
        assert connected
        replies = []
        for message in messages:
            await ws.send_to(bytes_data=framing.encode(message))
            replies.append(framing.decode(await ws.receive_from(timeout=10), opamp_pb2.ServerToAgent))
        await ws.disconnect()
        return replies

    return async_to_sync(scenario)()


def over_http(token, messages, client):
    replies = []
    for message in messages:
        response = client.post(
            "/v1/opamp",
            message.SerializeToString(),
            content_type=PROTOBUF,
            headers={"Authorization": f"Bearer {token}"},
        )
        replies.append(opamp_pb2.ServerToAgent.FromString(response.content))
    return replies
