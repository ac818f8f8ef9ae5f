"""Keep Python's garbage collector off the thousands of long-lived connection objects.

Each WebSocket holds a few hundred container objects (Twisted transport, Autobahn protocol,
Daphne's and Channels' state, the consumer) for hours. The cyclic garbage collector rescans
the objects of its older generations in full: a full collection holds the event loop for a
time that grows with the number of connections, and every agent's reply waits (measured in
docs/benchmarks.md). `gc.freeze()` moves every object alive at that moment into a permanent
generation that collections skip.

The server process freezes once when its first connection arrives (Django, the application
and everything imported are long-lived too) and again after every wave of FREEZE_AFTER new
connections. Cyclic garbage frozen with them (objects of connections that closed since) is
not collected until the next full collection, which runs at most every FULL_COLLECTION_SECONDS
and only when FREEZE_AFTER connections closed since the last one: unfreeze, collect, freeze.
"""

import gc
import logging
import time

logger = logging.getLogger(__name__)

FREEZE_AFTER = 100  # new connections since the last freeze
FULL_COLLECTION_SECONDS = 600


class HeapKeeper:
    def __init__(self):
        self.frozen_connections = None  # connections at the last freeze; None = never frozen
        self.closed = 0  # connections closed since the last full collection
        self.last_full = time.monotonic()

    def connection_closed(self):
        self.closed += 1

    def tick(self, connections: int) -> str:
        """Call every few seconds with the number of open connections; returns what it did."""
        if self.frozen_connections is None or connections - self.frozen_connections >= FREEZE_AFTER:
            gc.freeze()
            self.frozen_connections = connections
            return "froze"
        self.frozen_connections = min(self.frozen_connections, connections)
        if self.closed >= FREEZE_AFTER and time.monotonic() - self.last_full >= FULL_COLLECTION_SECONDS:
            started = time.monotonic()
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            self.closed, self.last_full, self.frozen_connections = 0, time.monotonic(), connections
            logger.info("full garbage collection: %d objects in %.0f ms", found, (time.monotonic() - started) * 1000)
            return "collected"
        return ""
