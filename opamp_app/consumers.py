"""The OpAMP WebSocket endpoint: one consumer per agent connection (docs/opamp.md).

Per connection, in memory: the authenticated Agent, the gateway's GatewayState (loaded with the
token at connect, then updated with each result's changes) and the protocol Session. Per
message: decode, protocol.process(), a write only when something changed (group-committed
with the other connections' writes, writes.py), encode, send. No query and no blocking call
on the event loop.

A connection holds no channel-layer channel: events for its gateway (config changes, token
revocations, restarts) reach the process once and are handed out by the registry
(presence.py, push.py).
"""

import asyncio
import functools
import logging
from dataclasses import replace
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from core_app import agent_urls
from core_app.ratelimit import scope_address
from gateways_app.tokens import TokenError
from opamp_app import admission, offload, own_metrics, services, writes
from opamp_app.presence import registry
from opamp_core import bounds, framing, messages, protocol

logger = logging.getLogger(__name__)

# ASGI extension that lets a WebSocket refusal carry its own HTTP response (see flowgate_site/serve.py).
DENIAL_EXTENSION = "websocket.http.response"
CLOSE_MESSAGE_TOO_BIG = 1009
UNAUTHORIZED_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"www-authenticate", b'Bearer realm="flowgate", error="invalid_token"'),
]


def scope_token(scope) -> str:
    """The OpAMP token of a WebSocket handshake (Authorization header or `token` query parameter)."""
    authorization = ""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            authorization = value.decode("latin-1")
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return services.extract_token(authorization, query.get("token", [""])[0])


class OpAMPConsumer(AsyncWebsocketConsumer):
    """An agent's OpAMP WebSocket: binary messages of a varint header 0 and a protobuf."""

    agent = None  # services.Agent once authenticated
    said_goodbye = False

    async def __call__(self, scope, receive, send):
        # Channels' AsyncConsumer.__call__ without its channel-layer channel: no pending Redis
        # read per connection, and no task and asyncio.wait() per message (await_many_dispatch).
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # Also when the consumer failed: a dead connection must not stay "online" in the registry.
            if self.agent is not None:
                registry.discard(self)

    async def dispatch(self, message):
        # Channels' dispatch() closes stale database connections before every handler: a thread
        # hop per message. This consumer never touches the ORM on the event loop (its database
        # calls go through database_sync_to_async, which does that cleanup itself), so skip it.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        client = scope_address(self.scope)
        denial = await admission.admit(client)
        if denial is not None:
            await self.deny(denial)
            return
        try:
            authenticate = database_sync_to_async(services.authenticate, thread_sensitive=False)
            self.agent = await authenticate(scope_token(self.scope))
        except TokenError as error:
            await admission.note_failure(client)
            await self.refuse(str(error))
            return
        except DatabaseError:
            logger.exception("could not authenticate an OpAMP WebSocket: the database failed")
            await self.deny(admission.unavailable())
            return
        # The URLs offered in connection settings (OpAMP, own metrics): how this agent reached us (once per connection).
        self.metrics_endpoint = own_metrics.scope_endpoint(self.scope)
        self.state = services.load_state(
            self.agent, opamp_endpoint=agent_urls.scope_endpoint(self.scope), metrics_endpoint=self.metrics_endpoint
        )
        self.session = protocol.Session()
        # Messages of the agent and config pushes (delivered by the registry) change state and
        # session in turn, never interleaved across an await.
        self.lock = asyncio.Lock()
        self.max_bytes = settings.FLOWGATE_OPAMP_MAX_MESSAGE_BYTES
        self.thread_bytes = settings.FLOWGATE_OPAMP_THREAD_BYTES
        self.limits = services.report_limits()
        self.check_bounds = functools.partial(bounds.check, limits=self.limits)
        await self.accept()
        registry.add(self)

    async def refuse(self, reason: str):
        """Refuse the handshake: HTTP 401 where the server supports it, else Daphne's 403."""
        client = (self.scope.get("client") or ["?"])[0]
        logger.info("OpAMP WebSocket from %s refused: %s", client, reason)
        if DENIAL_EXTENSION not in self.scope.get("extensions", {}):
            await self.close()
            return
        await self.base_send({"type": "websocket.http.response.start", "status": 401, "headers": UNAUTHORIZED_HEADERS})
        body = f"OpAMP token refused: {reason}\n".encode()
        await self.base_send({"type": "websocket.http.response.body", "body": body})

    async def deny(self, denial: admission.Denial):
        """Refuse the handshake with the denial's status and Retry-After (Daphne's 403 without the extension)."""
        logger.info("OpAMP WebSocket from %s refused: %s", scope_address(self.scope), denial.text)
        if not await admission.send_denial(self.base_send, self.scope, denial):
            await self.close()

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is None:
            await self.send_message(messages.bad_request(self.known_uid(), "OpAMP messages are binary frames"))
            return
        large = len(bytes_data) >= self.thread_bytes  # checked, parsed and processed off the loop
        try:
            message = await offload.run(
                large, framing.decode, bytes_data, max_size=self.max_bytes, check=self.check_bounds
            )
        except framing.MessageTooBig:
            await self.close(code=CLOSE_MESSAGE_TOO_BIG)
            return
        except bounds.ReportRefused as refused:
            await self.refuse_report(refused)
            return
        except framing.FramingError as error:
            await self.send_message(messages.bad_request(self.known_uid(), str(error)))
            return
        await self.handle(message, large=large)

    async def handle(self, message, large=False):
        async with self.lock:
            await self.process_message(message, large=large)

    async def refuse_report(self, refused: bounds.ReportRefused):
        """A report over a bound: BAD_REQUEST naming it, and its number is taken as seen (it is not asked for again)."""
        logger.warning("refused an OpAMP report of gateway %s: %s", self.agent.gateway.pk, refused)
        async with self.lock:
            if refused.sequence_num is not None:
                self.session = protocol.updated(self.session, sequence_num=refused.sequence_num)
            await self.send_message(messages.bad_request(self.known_uid(), str(refused)))

    async def process_message(self, message, large=False):
        now = timezone.now()
        result = await offload.run(
            large, protocol.process, message, self.state, self.session, now=now, limits=self.limits
        )
        if result.disconnect:
            # Out of the presence list before offline is saved: a presence write must not undo it.
            self.said_goodbye = True
            registry.discard(self)
        try:
            result = await writes.save_result(self.agent, self.state, result, transport="websocket")
        except writes.ReportNotStored as error:
            self.said_goodbye = False
            await self.not_stored(result, error)
            return
        except DatabaseError:
            self.said_goodbye = False  # offline was not saved: the closing connection saves it
            await self.unavailable(result)
            return
        self.session = result.session
        self.state = protocol.apply_changes(self.state, result.changes)
        await self.send_message(result.reply)

    async def not_stored(self, result, error):
        """The database refused this report's values: BAD_REQUEST once; the next messages go on from it."""
        logger.error("could not store the OpAMP report of gateway %s: %s", self.agent.gateway.pk, error)
        self.session = result.session
        await self.send_message(messages.bad_request(self.known_uid(), str(error)))

    async def unavailable(self, result):
        """The database failed: tell the agent to retry later, and ask for its full state then."""
        logger.exception("could not save the OpAMP report of gateway %s", self.agent.gateway.pk)
        self.session = replace(result.session, sequence_num=None)
        retry = settings.FLOWGATE_OPAMP_RETRY_AFTER_SECONDS
        await self.send_message(messages.unavailable(self.known_uid(), retry_after_seconds=retry))

    def known_uid(self) -> bytes:
        return (self.state.instance_uid if self.agent else None) or b""

    async def send_message(self, message):
        try:
            data = framing.encode(message, max_size=self.max_bytes)
        except framing.MessageTooBig as error:
            # The spec: a message over the limit must not be sent; record that it was discarded.
            logger.error("discarded a message to gateway %s: %s", self.agent.gateway.pk, error)
            return
        await self.send(bytes_data=data)

    async def disconnect(self, code):
        if self.agent is None:
            return
        registry.discard(self)
        if not self.said_goodbye and not registry.connected_elsewhere(self):
            await database_sync_to_async(services.mark_offline, thread_sensitive=False)(self.agent.gateway.pk)

    async def config_changed(self, desired_config: str, desired_config_hash: str):
        """The gateway's desired config changed (push.notify_config_changed, via the registry)."""
        async with self.lock:
            # The state is this connection's own copy: updated in place (no copy per agent in a push).
            self.state.desired_config, self.state.desired_config_hash = desired_config, desired_config_hash
            reply, self.session = protocol.push(self.state, self.session)
            if reply is not None:
                await self.send_message(reply)

    async def settings_changed(self, heartbeat_interval_seconds: int, telemetry_interval_seconds: int | None = None):
        """The organization's settings changed (push.notify_settings_changed, via the registry)."""
        async with self.lock:
            self.state.heartbeat_interval_seconds = heartbeat_interval_seconds
            if telemetry_interval_seconds is not None:
                self.agent = replace(self.agent, telemetry_interval_seconds=telemetry_interval_seconds)
                self.state.own_metrics = self.own_metrics()
            reply, self.session = protocol.push(self.state, self.session)
            if reply is not None:
                await self.send_message(reply)

    async def token_offered(self):
        """The gateway has a new OpAMP token to take (push.notify_token_offered, via the registry): offer it."""
        load = database_sync_to_async(services.load_offered_headers, thread_sensitive=False)
        headers = await load(self.agent.gateway.pk, self.agent.token_id, self.agent.own_headers)
        async with self.lock:
            self.state.opamp_headers = headers
            reply, self.session = protocol.push(self.state, self.session)
            if reply is not None:
                await self.send_message(reply)

    async def telemetry_credential_offered(self):
        """The gateway's telemetry credential was rotated (push.notify_telemetry_credential, via the registry)."""
        load = database_sync_to_async(own_metrics.load_authorization, thread_sensitive=False)
        authorization = await load(self.agent.gateway.pk)
        async with self.lock:
            self.agent = replace(self.agent, telemetry_authorization=authorization)
            self.state.own_metrics = self.own_metrics()
            reply, self.session = protocol.push(self.state, self.session)
            if reply is not None:
                await self.send_message(reply)

    def own_metrics(self) -> tuple:
        """GatewayState.own_metrics of this connection from the agent's credential and interval."""
        agent = self.agent
        return own_metrics.destination(
            self.metrics_endpoint, agent.telemetry_authorization, agent.telemetry_interval_seconds
        )

    async def restart(self):
        """Send the Restart command if the agent accepts it (push.request_restart, via the registry)."""
        if self.state.instance_uid and messages.can_restart(self.state.capabilities):
            await self.send_message(messages.restart_command(self.state.instance_uid))
