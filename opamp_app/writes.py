"""Group commit of OpAMP status writes: one thread hop and a few statements for many messages.

Both transports hand the Gateway changes of a status report to the process's StatusWrites
and wait for them to be saved before they reply (a reply never acknowledges what is not in
the database). Writes do not wait for a timer: the first change starts a flush at the next
turn of the event loop, and changes that arrive while a flush runs go together into the
next one. At a few messages per second every write is alone, as before; when a push makes
thousands of agents report APPLIED at once, hundreds of reports share one
`UPDATE … FROM (VALUES …)` (services.save_many) instead of one thread hop, ORM compilation
and round trip each.

First contacts and instance_uid claims keep their own path (services.save_result): they are
rare, audited, and check other gateways' uids.

The flushes of a process and its presence writes (presence.py) take turns (`lock`), so that
two of them never update the same rows in different orders (a deadlock in PostgreSQL).
"""

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from django.db import DataError, IntegrityError

from opamp_app import services
from opamp_core import protocol

logger = logging.getLogger(__name__)


class ReportNotStored(Exception):
    """The database refused the values of this report (not an outage): answered BAD_REQUEST, never retried.

    protocol._reported_fields() makes every value storable, so this should not happen; when it
    does, "retry later" would be answered on every retry of the same report.
    """

    @classmethod
    def of(cls, error: Exception) -> "ReportNotStored":
        lines = str(error).splitlines()  # the first line only: the rest quotes the SQL statement
        return cls(f"the report could not be stored: {lines[0] if lines else type(error).__name__}")


class StatusWrites:
    """The pending Gateway changes of one server process and the replies waiting for them."""

    def __init__(self):
        self.pending = {}  # gateway id -> {field: value}
        self.waiters = {}  # gateway id -> [Future]
        self.flushing = False
        self.batches = 0  # flushes done, and rows written by them (for tests and benchmarks)
        self.rows = 0
        self._loop = None
        self._lock = None

    @property
    def lock(self) -> asyncio.Lock:
        """Held while this process writes many Gateway rows (a flush, the presence write)."""
        self._bind()
        return self._lock

    def _bind(self):
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests run several): start afresh
            self._loop, self._lock = loop, asyncio.Lock()
            self.pending, self.waiters, self.flushing = {}, {}, False

    async def save(self, gateway_id, changes: dict) -> None:
        """Return once `changes` are in the database; raises DatabaseError if they could not be saved."""
        self._bind()
        self.pending.setdefault(gateway_id, {}).update(changes)
        waiter = self._loop.create_future()
        self.waiters.setdefault(gateway_id, []).append(waiter)
        if not self.flushing:
            self.flushing = True
            self._loop.create_task(self._flush_all(), name="opamp-status-writes")
        await waiter

    async def _flush_all(self):
        try:
            while self.pending:
                await asyncio.sleep(0)  # the reports handled in this turn of the loop join the batch
                pending, waiters = self.pending, self.waiters
                self.pending, self.waiters = {}, {}
                started = time.monotonic()
                failed = await self._write(pending)
                logger.debug(
                    "wrote the reports of %d gateways in %.1f ms", len(pending), (time.monotonic() - started) * 1000
                )
                self.batches += 1
                self.rows += len(pending)
                for gateway_id, futures in waiters.items():
                    error = failed.get(gateway_id)
                    if isinstance(error, (DataError, IntegrityError)):  # this row's values, not the database
                        error = ReportNotStored.of(error)
                    for future in futures:
                        if future.done():  # its connection went away meanwhile
                            continue
                        if error is None:
                            future.set_result(None)
                        else:
                            future.set_exception(error)
        finally:
            self.flushing = False

    async def _write(self, pending: dict) -> dict:
        try:
            async with self.lock:
                return await database_sync_to_async(services.save_many, thread_sensitive=False)(pending)
        except Exception as error:  # e.g. the database is unreachable: no waiter is left hanging
            return dict.fromkeys(pending, error)


status_writes = StatusWrites()


async def save_result(agent, state: protocol.GatewayState, result: protocol.Result, *, transport: str):
    """Persist a protocol result for a transport; returns the Result to send.

    Raises ReportNotStored when the database refused this report's values, DatabaseError when
    the database failed.

    Plain status reports go through the group commit; a gateway's first contact and uid claims
    go through services.save_result() (audit, uid uniqueness), alone. The row's `transport`
    follows the agent's (one write when it changes, e.g. a fall back from WebSocket to HTTP).
    """
    switched = agent.gateway.transport != transport
    if not (switched or services.needs_write(result)):
        return result
    if result.claims_new_uid is None and state.last_seen is not None:
        changes = {**result.changes, "transport": transport} if switched else result.changes
        await status_writes.save(agent.gateway.pk, changes)
    else:
        try:
            result = await database_sync_to_async(services.save_result, thread_sensitive=False)(
                agent.gateway, result, transport=transport, first_contact=state.last_seen is None
            )
        except (DataError, IntegrityError) as error:
            raise ReportNotStored.of(error) from error
    agent.gateway.transport = transport
    return result
