"""The Celery broker transport: kombu's Redis transport, with a channel that always ends up closed.

Why: with kombu 5.7.0 a worker died for good when Redis restarted while it held an
unacknowledged message (an acks_late task running, or a rollout tick waiting for its countdown,
which is nearly always). On the lost connection Celery closes the channel twice: first in
`Connection.collect()`, then in `Connection.close()`. kombu's `Channel.close()` gives up half-way
when Redis cannot be reached (reading the pending BRPOP reply, deleting fanout bindings, putting
unacknowledged messages back), so the channel stays open; `collect()` then detaches the transport
from the connection, and the second close, trying to put the messages back once more, builds a new
Redis pool from the detached transport: `AttributeError: 'NoneType' object has no attribute
'hostname'`. That error is not a connection error, so it escapes the consumer's restart path and
stops the worker.

Here a close that meets a connection error still releases the channel (poller, pools, sockets)
and marks it closed, so the second close does nothing and the worker reconnects. What could not
be done without Redis stays undone: a Redis that kept its data hands the unacknowledged messages
out again after the visibility timeout; a Redis that lost them loses no rollout work either, as
the reconcile task (beat) re-ticks every active deployment and restarts lost tick chains.

Used for redis:// broker URLs (CELERY_BROKER_TRANSPORT in settings.py). Relies on kombu internals
(`_in_poll`, `_qos`, `_disconnect_pools`, `_close_clients`): kombu is pinned through celery in requirements.txt.
"""

import logging

from kombu.transport import redis

logger = logging.getLogger(__name__)


class Channel(redis.Channel):
    """kombu's Redis channel whose close() completes even when Redis is gone."""

    def close(self):
        try:
            super().close()
        except self.connection_errors as error:
            self._release_after_lost_connection()
            logger.warning("closed a broker channel whose Redis connection is lost (%r)", error)

    def _release_after_lost_connection(self):
        """What close() does that needs no Redis: forget the pending read, free the sockets, be closed."""
        self._in_poll = None
        self._give_up_unacknowledged()
        if not self.closed:
            self.connection.cycle.discard(self)
            self._disconnect_pools()
            self._close_clients()
            self.closed = True
        if self._cycle is not None:
            self._cycle.close()
            self._cycle = None
        if self.connection is not None:
            self.connection.close_channel(self)

    def _give_up_unacknowledged(self):
        """Forget the messages close() could not put back, so that nothing tries again at exit."""
        qos = self._qos
        if qos is None or getattr(qos._delivered, "restored", False):
            return
        if qos._delivered:
            logger.warning(
                "%d unacknowledged message(s) stay with Redis (handed out again after the visibility timeout)",
                len(qos._delivered),
            )
        qos._delivered.clear()
        qos._delivered.restored = True


class Transport(redis.Transport):
    Channel = Channel
