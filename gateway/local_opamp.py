"""The local OpAMP endpoint: the collector's own opamp extension reports to the supervisor here.

When the collector build has the `opamp` extension (its `components` list says so), the
supervisor does what the OpenTelemetry OpAMP supervisor does: it adds the extension to every
config it runs, pointed at ws://127.0.0.1:<local_opamp_port>/v1/opamp (4321 by default), and
serves that endpoint. The collector then reports what only it knows: the health of each
pipeline and component, and its agent description. The supervisor passes the collector's
health on to the portal inside its own (supervisor.Supervisor.health()).

The endpoint takes one peer at a time in practice (the collector), listens on the loopback
interface only and answers every AgentToServer with a ServerToAgent, as the spec asks: with
ReportFullState when it lacks the collector's health (a first message without it, or after a
sequence gap). It offers nothing (no remote config, no settings): the portal's config reaches
the collector through the supervisor's files.
"""

import logging

import websockets
from websockets.asyncio.server import serve

from opamp_core import framing
from opamp_core.proto import opamp_pb2

logger = logging.getLogger(__name__)

PATH = "/v1/opamp"
HOST = "127.0.0.1"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def with_opamp_extension(config: dict, port: int, instance_uid: str) -> dict:
    """`config` plus the collector's opamp extension reporting to the local endpoint (a new dict).

    `instance_uid` (the gateway's, canonical UUID text) makes the collector report as the same
    agent across restarts. In supervisor mode the supervisor owns the extension: an `opamp` extension in the config
    (e.g. one pointed at the portal) is replaced. Other extensions are kept, and `opamp` is
    added to `service.extensions` once.
    """
    extensions = dict(config.get("extensions") or {})
    extensions["opamp"] = {
        "server": {"ws": {"endpoint": f"ws://{HOST}:{port}{PATH}"}},
        "instance_uid": instance_uid,
    }
    service = dict(config.get("service") or {})
    service["extensions"] = [name for name in service.get("extensions") or [] if name != "opamp"] + ["opamp"]
    return {**config, "extensions": extensions, "service": service}


class LocalOpAMPServer:
    """Serves the local endpoint; keeps the latest health and description the collector reported."""

    def __init__(self, port: int, *, on_change=None):
        self.port = port
        self.on_change = on_change or (lambda: None)
        self.health = None  # opamp_pb2.ComponentHealth while a collector is connected and has reported it
        self.description = None
        self.messages = 0
        self._server = None
        self._sequence_num = None

    async def start(self):
        self._server = await serve(
            self._handle,
            HOST,
            self.port,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
            process_request=self._check_path,
        )
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when asked for port 0
        logger.info("local OpAMP endpoint on ws://%s:%d%s", HOST, self.port, PATH)

    async def stop(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @staticmethod
    def _check_path(connection, request):
        if request.path.split("?", 1)[0] != PATH:
            return connection.respond(404, f"the local OpAMP endpoint is {PATH}\n")
        return None

    async def _handle(self, websocket):
        logger.info("the collector connected to the local OpAMP endpoint")
        self._sequence_num = None
        try:
            async for data in websocket:
                await websocket.send(framing.encode(self.receive(data)))
        except websockets.ConnectionClosed:
            pass
        finally:
            logger.info("the collector left the local OpAMP endpoint")
            self.health = self.description = None
            self.on_change()

    def receive(self, data) -> opamp_pb2.ServerToAgent:
        """The reply to one frame from the collector; records what it reports."""
        if isinstance(data, str):
            return error_reply(b"", "OpAMP messages are binary frames")
        try:
            message = framing.decode(data, opamp_pb2.AgentToServer, max_size=MAX_MESSAGE_BYTES)
        except framing.FramingError as error:
            return error_reply(b"", str(error))
        self.messages += 1
        reply = opamp_pb2.ServerToAgent(
            instance_uid=message.instance_uid, capabilities=opamp_pb2.ServerCapabilities_AcceptsStatus
        )
        gap = self._sequence_num is not None and message.sequence_num != self._sequence_num + 1
        self._sequence_num = message.sequence_num
        changed = False
        if message.HasField("agent_description"):
            self.description = message.agent_description
        if message.HasField("health"):
            changed = self.health != message.health
            self.health = message.health
        if message.HasField("agent_disconnect"):
            self.health, changed = None, True
        elif gap or self.health is None:
            reply.flags |= opamp_pb2.ServerToAgentFlags_ReportFullState
        if changed:
            self.on_change()
        return reply


def error_reply(uid: bytes, reason: str) -> opamp_pb2.ServerToAgent:
    reply = opamp_pb2.ServerToAgent(instance_uid=uid)
    reply.error_response.type = opamp_pb2.ServerErrorResponseType_BadRequest
    reply.error_response.error_message = reason
    return reply
