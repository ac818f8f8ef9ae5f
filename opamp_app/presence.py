"""What one server process knows about its live agents, and the one background loop that acts on it.

Per process, not per connection, so that its cost does not grow with the number of agents:

- every FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS, one query finds which tokens of the open
  WebSockets stopped working (revoked, expired, deleted) and those connections are closed.
  This bounds how long a revoked token keeps working when the immediate path (the
  `opamp_tokens_revoked` signal through the channel layer) is missed;
- every FLOWGATE_OPAMP_PRESENCE_SECONDS, the gateways with an open WebSocket here and those
  that polled here over HTTP get last_seen = now (one UPDATE per status). Messages that change
  nothing else are not written at all; this is what keeps last_seen (and so the stale-gateway
  task, services.mark_stale_gateways_offline) accurate.

The loop is an asyncio task on the server's event loop, started by the first WebSocket; the
HTTP view writes presence itself when it is due, so that a process serving only HTTP agents
needs no background task.
"""

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from opamp_app import services
from opamp_app.protocol import OFFLINE

logger = logging.getLogger(__name__)

# WebSocket close code for a connection whose token stopped working (RFC 6455: policy violation).
CLOSE_TOKEN_REFUSED = 1008


class Registry:
    """The live agents of this process: open WebSocket consumers and recently polling HTTP agents.

    A consumer registered here provides `agent` (services.Agent), `state` (GatewayState) and
    `async close(code)`.
    """

    def __init__(self):
        self.consumers = set()
        self.polled = {}  # gateway id -> status, HTTP agents seen since the last presence write
        self.last_presence_write = time.monotonic()
        self._writing = False
        self._task = None

    def add(self, consumer):
        self.consumers.add(consumer)
        self.ensure_running()

    def discard(self, consumer):
        self.consumers.discard(consumer)

    def connected_elsewhere(self, consumer) -> bool:
        """Whether another open WebSocket of this process speaks for the same gateway."""
        gateway_id = consumer.agent.gateway.pk
        return any(other.agent.gateway.pk == gateway_id for other in self.consumers if other is not consumer)

    def saw_http_agent(self, gateway_id, status):
        self.polled[gateway_id] = status

    def forget_http_agent(self, gateway_id):
        self.polled.pop(gateway_id, None)

    def ensure_running(self):
        """Start the background loop on the running event loop unless it already runs there."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="opamp-presence")

    async def _run(self):
        while self.consumers:
            await asyncio.sleep(settings.FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS)
            try:
                await self.close_refused()
                await self.write_presence_if_due()
            except Exception:  # a database hiccup must not end the loop for good
                logger.exception("OpAMP presence loop failed; retrying")

    async def close_refused(self, now=None):
        """Close the WebSockets whose token was revoked, expired or deleted (one query)."""
        now = now or timezone.now()
        consumers = list(self.consumers)
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
        statuses, self.polled = self.polled, {}
        for consumer in self.consumers:
            if consumer.state.status != OFFLINE:  # offline until its first message
                statuses[consumer.agent.gateway.pk] = consumer.state.status
        try:
            if statuses:
                await database_sync_to_async(services.touch_gateways, thread_sensitive=False)(statuses)
        finally:
            self._writing = False


registry = Registry()
