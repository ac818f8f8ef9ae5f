"""flowgate_site.http_channel byte by byte: body limits, the header timeout, and the Twisted internals it reads.

The live tests (test_body_limits_live.py, test_slow_clients_live.py) show the behaviour on a real
server; these pin the exact boundaries and fail first if a Twisted upgrade changes what the
channel relies on (HTTPChannel._command/_path, the methods it overrides).
"""

import pytest
from daphne.http_protocol import WebRequest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web import http

from flowgate_site import http_channel
from flowgate_site.body_limits import BodyLimits

LIMITS = BodyLimits(default=100, prefixes=(("/small", 10),))
TIMEOUT = 5


class Server:
    """What Daphne's Server gives a WebRequest, recording what the application would receive."""

    proxy_forwarded_address_header = None
    root_path = ""
    request_buffer_size = 8192
    server_name = "daphne"

    def __init__(self):
        self.scopes, self.bodies, self.log = [], [], []

    def protocol_connected(self, request):
        pass

    def protocol_disconnected(self, request):
        pass

    def create_application(self, request, scope):
        self.scopes.append(scope)
        return self  # the application's queue: put_nowait() below

    def put_nowait(self, message):
        self.bodies.append(message.get("body"))

    def log_action(self, protocol, action, details):
        self.log.append(details)


class Factory(http.HTTPFactory):
    """Like Daphne's HTTPFactory (it sets requestFactory = WebRequest on each channel), on a test clock."""

    def __init__(self, server, clock):
        super().__init__(reactor=clock)
        self.server = server

    def buildProtocol(self, addr):
        channel = super().buildProtocol(addr)
        channel.requestFactory = WebRequest
        return channel


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def server():
    return Server()


@pytest.fixture
def connect(server, clock):
    def make():
        factory = Factory(server, clock)
        http_channel.install(factory, LIMITS, TIMEOUT)
        channel = factory.buildProtocol(None)
        channel.makeConnection(StringTransport())
        return channel

    return make


def post(path, *headers):
    return b"POST %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, b"".join(h + b"\r\n" for h in headers))


class RecordingLimits:
    def __init__(self):
        self.targets = []

    def limit_for(self, target):
        self.targets.append(target)
        return 100


def test_the_channel_sees_the_request_target_when_the_headers_are_in(connect):
    channel = connect()
    channel.factory.body_limits = limits = RecordingLimits()
    channel.dataReceived(post(b"/small/x?token=1", b"Content-Length: 0"))
    assert limits.targets == [b"/small/x?token=1"]  # HTTPChannel._path, as the request line sent it
    assert isinstance(channel.requests[0], http_channel.LimitedRequest)


def test_a_content_length_over_the_limit_is_answered_413_and_nothing_more_is_read(connect, server):
    channel = connect()
    channel.dataReceived(post(b"/small", b"Content-Length: 11") + b"12345678901")
    answer = channel.transport.value()
    assert answer.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
    assert b"10-byte limit" in answer and channel.transport.disconnecting
    assert server.scopes == []  # no application was ever created
    assert server.log[0]["status"] == 413 and server.log[0]["method"] == "POST"


def test_a_content_length_at_the_limit_reaches_the_application(connect, server):
    channel = connect()
    channel.dataReceived(post(b"/small", b"Content-Length: 10") + b"1234567890")
    assert server.scopes[0]["path"] == "/small"
    assert b"".join(server.bodies) == b"1234567890"


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(connect, server):
    channel = connect()
    channel.dataReceived(post(b"/small", b"Transfer-Encoding: chunked") + b"a\r\n1234567890\r\n")
    assert channel.transport.value() == b""  # 10 bytes: still within the limit
    channel.dataReceived(b"1\r\nx\r\n0\r\n\r\n")
    assert channel.transport.value().startswith(b"HTTP/1.1 413 ")
    assert server.scopes == []  # the body's end did not make a request of it


def test_the_path_is_matched_percent_decoded_like_daphne_passes_it(connect):
    channel = connect()
    channel.dataReceived(post(b"/%73mall", b"Content-Length: 11"))
    assert channel.transport.value().startswith(b"HTTP/1.1 413 ")


def test_an_incomplete_head_is_answered_408_after_the_timeout_however_busy_the_client(connect, clock):
    channel = connect()
    channel.dataReceived(b"GET / HTTP/1.1\r\n")
    for _ in range(TIMEOUT * 2 - 1):
        clock.advance(0.5)
        channel.dataReceived(b"X")  # each byte restarts Twisted's idle timeout, not this one
    assert channel.transport.value() == b""
    clock.advance(0.5)
    assert channel.transport.value().startswith(b"HTTP/1.1 408 Request Timeout")
    assert channel.transport.disconnecting


def test_a_complete_head_stops_the_timer(connect, clock, server):
    channel = connect()
    channel.dataReceived(b"GET /slow-answer HTTP/1.1\r\nHost: x\r\n\r\n")
    clock.advance(TIMEOUT * 10)  # the application takes its time
    assert channel.transport.value() == b""
    assert server.scopes[0]["path"] == "/slow-answer"
