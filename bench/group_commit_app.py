"""EXPERIMENT for docs/benchmarks.md (next step 1): group commit of OpAMP status writes.

An ASGI application like flowgate_site.asgi, whose WebSocket consumer hands the Gateway
changes of plain status reports to one per-process GroupCommit instead of one UPDATE each:
every change that arrives within PERIOD seconds is written by one
`UPDATE … FROM (VALUES …)` per set of changed fields, in one transaction, in one thread hop.
Each reply still waits for its write (same guarantee as today). First contacts and
instance_uid claims keep the consumer's own path.

    ASGI_APP=group_commit_app:application bash bench/run_opamp_bench.sh

Not production code: it subclasses opamp_app.consumers.OpAMPConsumer and depends on its
process_message(); it exists to measure the proposal. Not collected by the test suite.
"""

import asyncio
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")

from channels.db import database_sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.db import DatabaseError, connection, transaction  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402

from flowgate_site.asgi import django_asgi_app  # noqa: E402  (sets Django up)
from gateways_app.models import Gateway  # noqa: E402
from opamp_app import protocol, services  # noqa: E402
from opamp_app.consumers import OpAMPConsumer  # noqa: E402
from opamp_app.presence import registry  # noqa: E402

PERIOD = float(os.environ.get("GROUP_COMMIT_SECONDS", "0.02"))
ROWS_PER_STATEMENT = 1000


def write_changes(pending):
    """{gateway_id: {field: value}} -> one UPDATE … FROM (VALUES …) per set of fields, one transaction."""
    groups = {}
    for gateway_id, changes in pending.items():
        groups.setdefault(tuple(sorted(changes)), []).append((gateway_id, changes))
    with transaction.atomic():
        for names, rows in groups.items():
            fields = [Gateway._meta.get_field(name) for name in names]
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                _update(fields, rows[start : start + ROWS_PER_STATEMENT])


def _update(fields, rows):
    columns = ", ".join(f'"{field.column}" = v."{field.column}"' for field in fields)
    row_sql = "(" + ", ".join(["%s::uuid"] + [f"%s::{field.db_type(connection)}" for field in fields]) + ")"
    names = ", ".join(["id"] + [f'"{field.column}"' for field in fields])
    params = []
    for gateway_id, changes in rows:
        params.append(gateway_id)
        params.extend(field.get_db_prep_value(changes[field.name], connection) for field in fields)
    values = ", ".join([row_sql] * len(rows))
    sql = f'UPDATE "{Gateway._meta.db_table}" AS g SET {columns} FROM (VALUES {values}) AS v({names}) WHERE g.id = v.id'
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


class GroupCommit:
    """Collects changes for PERIOD seconds, writes them together, then releases every writer."""

    def __init__(self):
        self.pending, self.waiters, self.scheduled = {}, [], False

    async def write(self, gateway_id, changes):
        loop = asyncio.get_running_loop()
        self.pending.setdefault(gateway_id, {}).update(changes)
        waiter = loop.create_future()
        self.waiters.append(waiter)
        if not self.scheduled:
            self.scheduled = True
            loop.call_later(PERIOD, lambda: loop.create_task(self.flush()))
        await waiter

    async def flush(self):
        pending, waiters = self.pending, self.waiters
        self.pending, self.waiters, self.scheduled = {}, [], False
        try:
            await database_sync_to_async(write_changes, thread_sensitive=False)(pending)
        except Exception as error:
            for waiter in waiters:
                waiter.set_exception(error)
        else:
            for waiter in waiters:
                waiter.set_result(None)


group_commit = GroupCommit()


class GroupCommitConsumer(OpAMPConsumer):
    async def process_message(self, message):
        result = protocol.process(message, self.state, self.session, now=timezone.now())
        first_contact = self.state.last_seen is None
        if not services.needs_write(result) or result.claims_new_uid is not None or first_contact:
            await super().process_message(message)  # process() is pure: computing it again is safe
            return
        try:
            await group_commit.write(self.agent.gateway.pk, result.changes)
        except DatabaseError:
            await self.unavailable(result)
            return
        self.session = result.session
        self.state = protocol.apply_changes(self.state, result.changes)
        if result.disconnect:
            self.said_goodbye = True
            registry.discard(self)
        await self.send_message(result.reply)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("v1/opamp", GroupCommitConsumer.as_asgi())]),
    }
)
