"""A WebSocket handshake straight into the consumer, as flowgate_site.serve presents it."""

from channels.testing import ApplicationCommunicator

from opamp_app.consumers import DENIAL_EXTENSION, OpAMPConsumer


async def handshake(token=None, address="10.0.0.1", headers=()):
    """The consumer's answer to a handshake: ("accept", None, {}) or ("deny", status, {header: value}) + body."""
    headers = list(headers)
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "websocket",
        "path": "/v1/opamp",
        "query_string": b"",
        "headers": headers,
        "subprotocols": [],
        "client": (address, 40000),
        "extensions": {DENIAL_EXTENSION: {}},
    }
    communicator = ApplicationCommunicator(OpAMPConsumer.as_asgi(), scope)
    await communicator.send_input({"type": "websocket.connect"})
    first = await communicator.receive_output(5)
    answer = ("accept", None, {}, b"")
    if first["type"] == "websocket.http.response.start":
        body = await communicator.receive_output(5)
        names = {name.decode(): value.decode() for name, value in first["headers"]}
        answer = ("deny", first["status"], names, body["body"])
    elif first["type"] == "websocket.close":
        answer = ("close", first.get("code"), {}, b"")
    await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    await communicator.wait(5)
    return answer
