"""Group commit of /v1/metrics: the rollups of the requests that arrive together are written in one transaction.

Why: at 5,000 gateways pushing every 30 s (about 170 requests a second) a transaction per request costs a
commit (a WAL flush), a state read and three statements each; the database side was about half of the
server's CPU per request. Here one thread per server process (the flusher) takes the first request waiting,
gathers those that arrive until it has waited FLOWGATE_TELEMETRY_BATCH_WINDOW_MS (100), at most MAX_BATCH, and runs
rollups.ingest_many() for all of them: one lock query, one state UPDATE, one rollup upsert, one throughput
upsert, one commit.

Durability before the answer: a request is answered only after the transaction holding its rows committed
(its future resolves then). A crash loses no acknowledged report; a failed batch fails each of its requests
(the view answers 503 + Retry-After, and OTLP exporters send the report again). The cost is latency: up to
the window plus the batch's transaction, small beside a 30 s push interval.

Requests through the ASGI endpoint (endpoint.py) are checked and decoded in the flusher thread too, just before
their batch is written (services.prepare: credential, body, decoding): no hop through a worker thread of
their own, and the event loop is woken once per batch to answer all of them. Requests through the Django
view were prepared in a worker thread and only join the write. The flusher uses its own database connection
(a thread's), closed per Django's CONN_MAX_AGE like a request's.
"""

import asyncio
import contextlib
import logging
import queue
import threading
import time
from concurrent.futures import Future

from django.conf import settings
from django.db import close_old_connections

from telemetry_app import rollups

logger = logging.getLogger(__name__)

MAX_BATCH = 200  # requests per transaction at most (about 60 points, 25 rows each)


class GroupCommit:
    def __init__(self):
        self.queue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.thread = None

    def submit(self, gateway, points, minute_retention_hours) -> Future:
        """A future of the request's rollups.Outcome, set once its batch committed (or its exception)."""
        future = Future()
        self.queue.put(((gateway, points, minute_retention_hours), future, time.monotonic()))
        self._start()
        return future

    async def run(self, prepare):
        """The rollups.Outcome of the request `prepare()` makes (blocking: credential, body, decoding; a
        services.Prepared), run in the flusher thread with the batch it joins: no worker-thread hop of its own,
        and one wake-up of the event loop per batch, not two per request. prepare()'s exception (a Refusal)
        or the batch's is raised here."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put((prepare, (loop, future), time.monotonic()))
        self._start()
        return await future

    def _start(self):
        if self.thread is not None and self.thread.is_alive():
            return
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="telemetry-group-commit", daemon=True)
                self.thread.start()

    def _run(self):
        while True:
            first = self.queue.get()
            batch = [first[:2]]
            # The window counts from when the oldest request arrived: requests that queued up while the
            # previous batch was written go at once.
            deadline = first[2] + settings.FLOWGATE_TELEMETRY_BATCH_WINDOW_MS / 1000
            while len(batch) < MAX_BATCH:
                remaining = deadline - time.monotonic()
                try:
                    item = self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item[:2])
            self.flush(batch)

    @staticmethod
    def flush(batch):
        """Prepare the requests that need it, write all in one transaction, then settle every waiter."""
        close_old_connections()
        results, items = [None] * len(batch), []
        try:
            for index, (work, _) in enumerate(batch):
                if callable(work):
                    try:
                        prepared = work()
                    except Exception as error:  # noqa: BLE001  (a Refusal, or the database: that request's answer)
                        results[index] = (False, error)
                        continue
                    credential = prepared.credential
                    work = (credential.gateway, prepared.points, credential.minute_retention_hours)
                items.append((index, work))
            try:
                outcomes = rollups.ingest_many([work for _, work in items]) if items else []
            except Exception as error:  # noqa: BLE001  (every request of the batch gets it: 503, retried)
                logger.warning("telemetry batch of %d requests failed: %s", len(items), error)
                for index, _ in items:
                    results[index] = (False, error)
            else:
                for (index, _), outcome in zip(items, outcomes, strict=True):
                    results[index] = (True, outcome)
        finally:
            close_old_connections()
            settle([waiter for _, waiter in batch], results)


def settle(waiters, results):
    """Give each waiter its result: concurrent futures at once, asyncio ones in one callback per event loop."""
    by_loop = {}
    for waiter, result in zip(waiters, results, strict=True):
        result = result or (False, RuntimeError("telemetry batch interrupted"))
        if isinstance(waiter, Future):
            if result[0]:
                waiter.set_result(result[1])
            else:
                waiter.set_exception(result[1])
        else:
            loop, future = waiter
            by_loop.setdefault(loop, []).append((future, result))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(_settle_async, settled)


def _settle_async(settled):
    for future, (ok, value) in settled:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


group_commit = GroupCommit()
