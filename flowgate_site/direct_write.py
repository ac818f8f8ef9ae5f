"""Send a connection's bytes at once when nothing waits before them.

Twisted's TCP transport never sends in write(): it queues the bytes, asks the event loop to
watch the socket for writability (one epoll_ctl), sends on the loop's next turn and stops
watching (another epoll_ctl). For an OpAMP server that sends thousands of small WebSocket frames
a second, that bookkeeping cost more CPU than the frames themselves (docs/benchmarks.md).

install(transport) gives one plain TCP connection a write() that does what asyncio's transports
do: with nothing queued, send straight away and queue only what the socket does not take.
Twisted sends the queued rest, in order, when the socket is writable again. Anything unusual (TLS,
a closing connection, bytes already queued, a socket error) takes Twisted's own path unchanged,
so errors and disconnects are handled where Twisted handles them.

It reads Twisted's buffer attributes (dataBuffer, offset, _tempDataLen), which is why
requirements.txt pins Twisted; tests/core/test_direct_write.py fails if they change meaning.
"""

from functools import partial

from twisted.internet import tcp


def install(transport) -> bool:
    """Make `transport.write()` send at once when it can. False (nothing changed) if not plain TCP."""
    if not isinstance(transport, tcp.Connection):
        return False
    transport.write = partial(write_now, transport)
    return True


def nothing_queued(transport) -> bool:
    return not transport._tempDataLen and transport.offset >= len(transport.dataBuffer)


def write_now(transport, data) -> None:
    if (
        not isinstance(data, bytes)
        or transport.TLS
        or not transport.connected
        or transport.disconnecting
        or not nothing_queued(transport)
    ):
        tcp.Connection.write(transport, data)  # Twisted's own path: queued, sent when writable
        return
    try:
        sent = transport.socket.send(data)
    except BlockingIOError:
        sent = 0
    except OSError:
        # Twisted meets the same error when it tries, and closes the connection its way.
        tcp.Connection.write(transport, data)
        return
    if sent < len(data):
        tcp.Connection.write(transport, data[sent:])
