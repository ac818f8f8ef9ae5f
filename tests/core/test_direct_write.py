"""flowgate_site.direct_write on real sockets: bytes leave at once, in order, and errors take Twisted's path."""

import socket

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor

from flowgate_site import direct_write


class Peer:
    """A Twisted TCP transport on one end of a loopback TCP connection; the test reads the other end."""

    def __init__(self, send_buffer=None):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            self.remote = socket.create_connection(listener.getsockname())
            self.local, _ = listener.accept()
        if send_buffer:
            self.local.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
            self.remote.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, send_buffer)
        self.reactor = MemoryReactor()
        self.transport = tcp.Connection(self.local, Protocol(), self.reactor)
        self.transport.connected = True
        self.remote.settimeout(2)

    def watched_for_writing(self):
        return self.transport in self.reactor.writers

    def receive(self, size):
        data = b""
        while len(data) < size:
            data += self.remote.recv(size - len(data))
        return data

    def close(self):
        self.local.close()
        self.remote.close()


@pytest.fixture
def peer():
    made = Peer()
    yield made
    made.close()


def test_only_plain_tcp_connections_are_changed(peer):
    assert direct_write.install(peer.transport) is True
    assert direct_write.install(object()) is False


def test_with_nothing_queued_the_bytes_are_sent_at_once(peer):
    direct_write.install(peer.transport)
    peer.transport.write(b"frame-1")
    peer.transport.write(b"frame-2")
    # No reactor turn happened: the peer has the bytes already and nothing waits for writability.
    assert peer.receive(14) == b"frame-1frame-2"
    assert not peer.watched_for_writing()
    assert direct_write.nothing_queued(peer.transport)


def test_without_it_twisted_queues_until_the_next_turn(peer):
    # The behaviour direct_write replaces: if this fails, Twisted's buffer attributes changed meaning.
    peer.transport.write(b"frame")
    assert peer.watched_for_writing()
    assert not direct_write.nothing_queued(peer.transport)
    peer.transport.doWrite()
    assert peer.receive(5) == b"frame"
    assert direct_write.nothing_queued(peer.transport)
    assert not peer.watched_for_writing()


def test_what_the_socket_does_not_take_is_queued_and_sent_later_in_order():
    peer = Peer(send_buffer=4096)
    try:
        direct_write.install(peer.transport)
        # 64 KiB: more than both 4 KiB socket buffers hold (the assertion below checks the rest was queued);
        # more only adds round trips of a tiny TCP window, ~0.2 s each.
        big = bytes(range(256)) * 256
        peer.transport.write(big)
        peer.transport.write(b"after")  # must not overtake the queued rest
        assert peer.watched_for_writing()
        received = b""
        while len(received) < len(big) + 5:
            received += peer.remote.recv(65536)
            peer.transport.doWrite()  # what the reactor does when the socket is writable
        assert received == big + b"after"
        assert not peer.watched_for_writing()
        assert direct_write.nothing_queued(peer.transport)
    finally:
        peer.close()


def test_a_socket_error_is_left_to_twisted(peer):
    direct_write.install(peer.transport)
    peer.remote.close()
    peer.transport.write(b"x" * 100)  # no exception here; the first send may still succeed
    peer.transport.write(b"y" * 100)
    peer.transport.write(b"z" * 100)
    # Twisted queued the bytes it could not send and reports the lost connection when it tries.
    assert peer.watched_for_writing()
    assert peer.transport.doWrite() is not None


def test_a_closing_connection_keeps_twisteds_order(peer):
    direct_write.install(peer.transport)
    peer.transport.write(b"first")
    peer.transport.disconnecting = True
    peer.transport.write(b"last")
    assert peer.receive(5) == b"first"
    assert peer.watched_for_writing()
    assert not direct_write.nothing_queued(peer.transport)
