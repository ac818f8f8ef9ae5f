"""Group commit of /v1/metrics: the rollups of the requests that arrive together are written in one transaction.

Why: at 5,000 gateways pushing every 30 s (about 170 requests a second) a transaction per request costs a
commit (a WAL flush), a state read and three statements each; the database side was about half of the
server's CPU per request. Here one thread per server process (the flusher) takes the first request waiting,
gathers those that arrive until it has waited FLOWGATE_TELEMETRY_BATCH_WINDOW_MS (50), at most MAX_BATCH, and runs
rollups.ingest_many() for all of them: one lock query, one state UPDATE, one rollup upsert, one throughput
upsert, one commit.

Durability before the answer: a request is answered only after the transaction holding its rows committed
(its future resolves then). A crash loses no acknowledged report; a failed batch fails each of its requests
(the view answers 503 + Retry-After, and OTLP exporters send the report again). The cost is latency: up to
the window plus the batch's transaction, small beside a 30 s push interval.

Everything the requests need was checked before they get here (credential, body, decoding: services.py);
the flusher only writes. It uses its own database connection (a thread's), closed per Django's CONN_MAX_AGE
like a request's.
"""

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
        close_old_connections()
        try:
            outcomes = rollups.ingest_many([item for item, _ in batch])
        except Exception as error:  # noqa: BLE001  (every request of the batch gets it: 503, retried)
            logger.warning("telemetry batch of %d requests failed: %s", len(batch), error)
            for _, future in batch:
                future.set_exception(error)
        else:
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                future.set_result(outcome)
        finally:
            close_old_connections()


group_commit = GroupCommit()
