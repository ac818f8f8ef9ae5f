"""What one server process knows about its live agents, and the background work done per process.

Per process, not per connection, so that the cost does not grow with the number of agents:

- a listener on the channel-layer group of all server processes (`SERVERS_GROUP`): a config
  change for many gateways, a token revocation or a restart request arrives once per process
  and is handed to the local connections of the gateways it names, in memory (push.py);
  connections themselves hold no channel-layer channel;
- every FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS, one query finds which tokens of the open
  WebSockets stopped working (revoked, expired, deleted) and those connections are closed.
  This bounds how long a revoked token keeps working when the immediate path (the
  `opamp_tokens_revoked` signal through the servers group) is missed;
- every FLOWGATE_OPAMP_PRESENCE_SECONDS, the gateways with an open WebSocket here and those
  that polled here over HTTP get last_seen = now (one UPDATE per status). Messages that change
  nothing else are not written at all; this is what keeps last_seen (and so the stale-gateway
  task, services.mark_stale_gateways_offline) accurate;
- the garbage collector is kept off the long-lived connection objects (heap.py).

The background tasks run on the server's event loop and start with the first WebSocket; the
HTTP view writes presence itself when it is due, so that a process serving only HTTP agents
needs no background task.
"""

import asyncio
import contextlib
import logging
import time
import uuid

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from opamp_app import services
from opamp_app.heap import HeapKeeper
from opamp_app.writes import status_writes
from opamp_core.protocol import OFFLINE

logger = logging.getLogger(__name__)

# WebSocket close code for a connection whose token stopped working (RFC 6455: policy violation).
CLOSE_TOKEN_REFUSED = 1008
# The channel-layer group every server process listens on (one channel per process).
SERVERS_GROUP = "opamp.servers"
# Message types on SERVERS_GROUP (push.py): a desired config for some gateways, or an event
# about some gateways (`event`: TOKENS_REVOKED, TOKEN_OFFERED, TELEMETRY_CREDENTIAL_OFFERED or RESTART).
CONFIGS_CHANGED = "opamp.configs_changed"
GATEWAY_EVENT = "opamp.gateway_event"
# An organization's settings changed (`organization_id`, `heartbeat_interval_seconds`, `telemetry_interval_seconds`).
SETTINGS_CHANGED = "opamp.settings_changed"
TOKENS_REVOKED = "tokens_revoked"
TOKEN_OFFERED = "token_offered"
TELEMETRY_CREDENTIAL_OFFERED = "telemetry_credential_offered"
RESTART = "restart"
# Connections handed an event per turn of the event loop (Registry._each).
FANOUT_SLICE = 1000
# The listener joins SERVERS_GROUP again every JOIN_SECONDS: memberships live in Redis, and a Redis
# restart loses them, sometimes without an error here (redis-py reconnects by itself between two reads).
# This also renews the membership long before channels-redis expires it (a day by default).
JOIN_SECONDS = 15
# After a channel-layer error: wait this long, then join again and go on receiving.
RETRY_SECONDS = 1
# A cancelled channel-layer call that goes on regardless is cancelled again this often (_call).
RECANCEL_SECONDS = 0.1


class Registry:
    """The live agents of this process: open WebSocket consumers and recently polling HTTP agents.

    A consumer registered here provides `agent` (services.Agent), `state` (GatewayState),
    `async config_changed(desired_config, desired_config_hash)`, `async settings_changed(seconds)`,
    `async restart()` and `async close(code)`.
    """

    def __init__(self):
        self.by_gateway = {}  # gateway id -> set of consumers
        self.polled = {}  # gateway id -> status, HTTP agents seen since the last presence write
        self.last_presence_write = time.monotonic()
        self._writing = False
        self._loop = None
        self._tasks = {}
        self.heap = HeapKeeper()

    def consumers(self):
        return [consumer for group in self.by_gateway.values() for consumer in group]

    def add(self, consumer):
        self.by_gateway.setdefault(consumer.agent.gateway.pk, set()).add(consumer)
        self.ensure_running()

    def discard(self, consumer):
        gateway_id = consumer.agent.gateway.pk
        group = self.by_gateway.get(gateway_id, set())
        if consumer in group:
            self.heap.connection_closed()
        group.discard(consumer)
        if not group:
            self.by_gateway.pop(gateway_id, None)

    def connected_elsewhere(self, consumer) -> bool:
        """Whether another open WebSocket of this process speaks for the same gateway."""
        return bool(self.by_gateway.get(consumer.agent.gateway.pk, set()) - {consumer})

    def saw_http_agent(self, gateway_id, status):
        self.polled[gateway_id] = status

    def forget_http_agent(self, gateway_id):
        self.polled.pop(gateway_id, None)

    def ensure_running(self):
        """Start the background tasks on the running event loop unless they already run there."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._tasks = loop, {}
        for name, work in (("checks", self._check_loop), ("listener", self._listen)):
            task = self._tasks.get(name)
            if task is None or task.done():
                self._tasks[name] = loop.create_task(work(), name=f"opamp-{name}")

    async def _check_loop(self):
        while self.by_gateway:
            await asyncio.sleep(settings.FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS)
            try:
                await self.close_refused()
                await self.write_presence_if_due()
                if settings.FLOWGATE_OPAMP_FREEZE_GC:
                    self.heap.tick(sum(len(group) for group in self.by_gateway.values()))
            except Exception:  # a database hiccup must not end the loop for good
                logger.exception("OpAMP presence loop failed; retrying")

    async def _listen(self):
        """Receive SERVERS_GROUP messages for this process, for as long as it runs.

        A failed receive (Redis restarted or unreachable) is retried every RETRY_SECONDS, and the
        membership is renewed at once (_stay_joined): a restarted Redis knows no group members.
        """
        layer = get_channel_layer()
        if layer is None:
            return
        # The default prefix: channels-redis keeps all local channels with the same prefix in one
        # Redis key, popped by whichever local receive() holds the lock. Another prefix would wait
        # behind the consumers' blocking pops (seconds).
        channel = await layer.new_channel()
        rejoin = asyncio.Event()
        await self._join(layer, channel)
        keeper = asyncio.get_running_loop().create_task(self._stay_joined(layer, channel, rejoin), name="opamp-join")
        failing = False
        try:
            while True:
                try:
                    event = await _call(layer.receive(channel))
                except Exception:
                    if not failing:
                        logger.exception("OpAMP server listener failed; retrying every %s s", RETRY_SECONDS)
                    failing = True
                    rejoin.set()
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if failing:
                    logger.info("OpAMP server listener receives again")
                    failing = False
                try:
                    await self.deliver(event)
                except Exception:
                    logger.exception("could not deliver an OpAMP event to the connections of this process")
        finally:
            keeper.cancel()

    @staticmethod
    async def _join(layer, channel):
        """Add the listener's channel to SERVERS_GROUP, retrying every RETRY_SECONDS until it works."""
        failing = False
        while True:
            try:
                await _call(layer.group_add(SERVERS_GROUP, channel))
            except Exception as error:
                if not failing:
                    logger.warning("could not join %s (%r); retrying every %s s", SERVERS_GROUP, error, RETRY_SECONDS)
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if failing:
                logger.info("joined %s again", SERVERS_GROUP)
            return

    async def _stay_joined(self, layer, channel, rejoin):
        """Join SERVERS_GROUP again every JOIN_SECONDS, and at once when the listener saw an error."""
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that comes
            # just as rejoin is set (see _call), and this loop would never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(JOIN_SECONDS):
                    await rejoin.wait()
            rejoin.clear()
            await self._join(layer, channel)

    async def deliver(self, event):
        """Hand a SERVERS_GROUP message to this process's connections it concerns.

        Most name gateways; SETTINGS_CHANGED names an organization (all its connections).
        """
        kind, started = event.get("type"), time.monotonic()
        if kind == SETTINGS_CHANGED:
            targets = self.connections_of_organization(event["organization_id"])
        else:
            targets = self.connections_of(event.get("gateway_ids", ()))
        if not targets:
            return
        if kind == SETTINGS_CHANGED:
            seconds, telemetry_seconds = event["heartbeat_interval_seconds"], event.get("telemetry_interval_seconds")
            await self._each(targets, lambda consumer: consumer.settings_changed(seconds, telemetry_seconds))
        elif kind == CONFIGS_CHANGED:
            config, digest = event["desired_config"], event["desired_config_hash"]
            await self._each(targets, lambda consumer: consumer.config_changed(config, digest))
        elif kind == GATEWAY_EVENT and event.get("event") == TOKENS_REVOKED:
            await self.close_refused(targets)
        elif kind == GATEWAY_EVENT and event.get("event") == TOKEN_OFFERED:
            await self._each(targets, lambda consumer: consumer.token_offered())
        elif kind == GATEWAY_EVENT and event.get("event") == TELEMETRY_CREDENTIAL_OFFERED:
            await self._each(targets, lambda consumer: consumer.telemetry_credential_offered())
        elif kind == GATEWAY_EVENT and event.get("event") == RESTART:
            await self._each(targets, lambda consumer: consumer.restart())
        else:
            logger.warning("ignored an OpAMP event of unknown type %r", kind)
            return
        logger.debug("handed %s to %d connections in %.1f ms", kind, len(targets), (time.monotonic() - started) * 1000)

    def connections_of(self, hex_ids) -> list:
        targets = []
        for hex_id in hex_ids:
            targets.extend(self.by_gateway.get(uuid.UUID(hex_id), ()))
        return targets

    def connections_of_organization(self, hex_id) -> list:
        organization_id = uuid.UUID(hex_id)
        return [consumer for consumer in self.consumers() if consumer.agent.gateway.organization_id == organization_id]

    @staticmethod
    async def _each(consumers, work):
        """Run `work` for every consumer, FANOUT_SLICE at a time, yielding to the event loop between slices.

        Sends are written to the sockets only when the loop turns: handing out a config to
        5,000 connections in one go would hold every message back until the last one is ready
        (1.5 s), and hold back every other connection's messages too.
        """
        for start in range(0, len(consumers), FANOUT_SLICE):
            chunk = consumers[start : start + FANOUT_SLICE]
            results = await asyncio.gather(*(work(consumer) for consumer in chunk), return_exceptions=True)
            for error in results:
                if isinstance(error, Exception):
                    logger.error("could not hand an OpAMP event to a connection: %r", error)
            await asyncio.sleep(0)

    async def close_refused(self, consumers=None, now=None):
        """Close the WebSockets (all, or these) whose token was revoked, expired or deleted (one query)."""
        now = now or timezone.now()
        consumers = self.consumers() if consumers is None else consumers
        if not consumers:
            return
        live = await database_sync_to_async(services.live_token_ids, thread_sensitive=False)(
            {consumer.agent.token_id for consumer in consumers}, now
        )
        for consumer in consumers:
            if consumer.agent.token_id not in live:
                logger.info(
                    "closing the OpAMP connection of gateway %s: token no longer valid", consumer.agent.gateway.pk
                )
                self.discard(consumer)
                await consumer.close(code=CLOSE_TOKEN_REFUSED)

    async def write_presence_if_due(self):
        if time.monotonic() - self.last_presence_write >= settings.FLOWGATE_OPAMP_PRESENCE_SECONDS:
            await self.write_presence()

    async def write_presence(self):
        """last_seen = now for every live gateway of this process (one UPDATE per status)."""
        if self._writing:
            return
        self._writing = True
        self.last_presence_write = time.monotonic()
        try:
            # Who is live is read once the batches of status writes are done: a goodbye saved by
            # one of them must not be overwritten with "online" by a list read before it.
            async with status_writes.lock:
                statuses, self.polled = self.polled, {}
                for consumer in self.consumers():
                    if consumer.state.status != OFFLINE:  # offline until its first message
                        statuses[consumer.agent.gateway.pk] = consumer.state.status
                if statuses:
                    await database_sync_to_async(services.touch_gateways, thread_sensitive=False)(statuses)
        finally:
            self._writing = False


async def _call(awaitable):
    """Await a channel-layer call in a task of its own, and make sure it ends when this task is cancelled.

    On Python 3.11 asyncio.wait_for loses a cancellation that arrives just as the operation it waits
    on completes (CPython issue 86296, fixed in 3.12), and redis-py sends every command through
    wait_for. The call then goes on as if nothing happened: channels-redis's receive() pops again
    until a message comes, and the listener with it. An event loop's shutdown (asyncio.run, so each
    async_to_sync) cancels every task once and waits for all of them: it waited for ever, idle.
    asyncio.wait never absorbs the caller's cancellation; the call is then cancelled again until it
    has really ended.
    """
    call = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({call})
    except asyncio.CancelledError:
        while not call.done():
            call.cancel()
            await asyncio.wait({call}, timeout=RECANCEL_SECONDS)
        raise
    return call.result()


registry = Registry()
