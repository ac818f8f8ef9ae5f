"""FlowGate's HTTP/1.1 connections under Daphne: bodies within their path's limit, request heads in time.

Two things stock Daphne and Twisted do not do (docs/security.md "Request body limits", "Slow clients"):

- Body limits. Daphne receives a request's whole body (in memory or a temporary file) before it
  creates the application, then queues all of it for the application at once. Here, as soon as a
  request's headers are in, its path's limit (flowgate_site.body_limits) decides: a Content-Length
  over it is answered 413 at once, before a byte of the body is read; a chunked body is counted as
  it is decoded and answered 413 the moment it passes the limit. The connection then ends: the
  answer is sent, the sending side shut, and what the client still sends is read and dropped for
  at most LINGER_SECONDS before the connection is aborted. Closing at once would not do: a socket
  closed with unread data sends a reset, which can destroy the 413 before the client reads it.
- Header timeout. Twisted's own timeout is an idle timeout that every byte restarts: clients
  sending one header byte every 10 s held their connections forever. Here a connection has
  `header_timeout` seconds from its opening (or from the first byte of its next request, when kept
  alive) to complete its request line and headers; otherwise it is answered 408 and closed. Once
  the headers are in the timer is off: a slow response (long poll) is never cut by it, nor is a
  WebSocket, whose handshake Autobahn times out itself (Daphne's --websocket_handshake_timeout)
  and which then lives on the OpAMP heartbeats.

Twisted and Daphne internals relied on (tests/core/test_http_channel.py fails if they change):
- `HTTPChannel._command` and `HTTPChannel._path`: the method and target of the request whose head
  or body is being received (set when the request line is parsed, until allContentReceived()).
- HTTPChannel's allHeadersReceived(), allContentReceived(), rawDataReceived(), requestDone() and
  Request.handleContentChunk(): public names Twisted documents as not meant for users, overridden.
- Daphne's HTTPFactory.buildProtocol() sets `requestFactory = WebRequest` on each new channel;
  connectionMade(), which runs after it, puts LimitedRequest (a WebRequest) in its place.
"""

import logging
import time

from daphne.http_protocol import WebRequest
from twisted.internet.interfaces import ITCPTransport
from twisted.web import http

logger = logging.getLogger(__name__)

# How long a refused body may still be read (and dropped) so that the client reads the 413.
LINGER_SECONDS = 2.0
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def install(factory, body_limits, header_timeout):
    """Serve the connections of Daphne's HTTPFactory `factory` with FlowGateHTTPChannel.

    Called before the reactor runs, so no connection exists yet; the factory builds its channels
    from `protocol` (Twisted's documented switch) on each connection.
    """
    factory.protocol = FlowGateHTTPChannel
    factory.body_limits = body_limits
    factory.header_timeout = header_timeout
    # HTTP/2 (Twisted's H2Connection, chosen through TLS ALPN) would bypass this channel.
    factory.acceptableProtocols = lambda: [b"http/1.1"]


class LimitedRequest(WebRequest):
    """Daphne's request with its body counted as it is decoded: chunked bodies have no length up front."""

    body_limit = None  # set by the channel once the headers are in
    body_received = 0

    def handleContentChunk(self, data):
        channel = self.channel
        if channel is None or channel.refusing:
            return
        self.body_received += len(data)
        if self.body_limit is not None and self.body_received > self.body_limit:
            channel.refuse_body(self)
            return
        super().handleContentChunk(data)


class FlowGateHTTPChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 channel with the body limits and the header timeout described above."""

    refusing = False  # a 413 was sent: what arrives now is read and dropped
    awaiting_head = True  # no complete request head since the connection opened or the last request ended
    head_timer = None
    head_started = None
    linger_timer = None

    def connectionMade(self):
        self.requestFactory = LimitedRequest
        super().connectionMade()
        self.start_head_timer()

    def dataReceived(self, data):
        if self.refusing:
            return
        if self.awaiting_head and self.head_timer is None:
            self.start_head_timer()  # the first byte of a kept-alive connection's next request
        super().dataReceived(data)

    def allHeadersReceived(self):
        self.stop_head_timer()
        self.awaiting_head = False
        request = self.requests[-1]
        request.body_limit = self.factory.body_limits.limit_for(self._path)
        if self.length is not None and self.length > request.body_limit:
            self.refuse_body(request)  # before a byte of the body is read (nor 100 Continue sent)
            return
        super().allHeadersReceived()

    def rawDataReceived(self, data):
        if not self.refusing:
            super().rawDataReceived(data)

    def allContentReceived(self):
        if not self.refusing:  # a refused body's end never becomes a request for the application
            super().allContentReceived()

    def requestDone(self, request):
        self.awaiting_head = True  # before Twisted replays the data of a pipelined next request
        super().requestDone(request)

    def connectionLost(self, reason):
        self.stop_head_timer()
        if self.linger_timer is not None and self.linger_timer.active():
            self.linger_timer.cancel()
        super().connectionLost(reason)

    def start_head_timer(self):
        timeout = self.factory.header_timeout
        self.head_started = time.monotonic()
        if timeout:
            self.head_timer = self.callLater(timeout, self.head_timed_out)

    def stop_head_timer(self):
        if self.head_timer is not None and self.head_timer.active():
            self.head_timer.cancel()
        self.head_timer = None

    def head_timed_out(self):
        self.head_timer = None
        logger.info(
            "closed the connection of %s: no complete request head within %s s",
            peer_text(self.transport.getPeer()),
            self.factory.header_timeout,
        )
        self.transport.write(REQUEST_TIMEOUT)
        self.timeoutConnection()  # Twisted's close, aborted after abortTimeout if the client holds on

    def refuse_body(self, request):
        """Answer 413, stop reading the body, and end the connection (see the module docstring)."""
        self.refusing = True
        limit = request.body_limit
        text = f"the request body exceeds the {limit}-byte limit of this path\n".encode()
        self.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(text), text)
        )
        self.log_refusal(len(text))
        self.linger_timer = self.callLater(LINGER_SECONDS, self.transport.abortConnection)
        if ITCPTransport.providedBy(self.transport):
            self.transport.loseWriteConnection()  # FIN once the 413 is out; keep reading
        else:
            self.transport.loseConnection()

    def log_refusal(self, size):
        """An access-log line like the ones Daphne writes for the requests it answers."""
        server = self.factory.server
        server.log_action(
            "http",
            "complete",
            {
                "path": self._path.decode("latin-1"),
                "status": 413,
                "method": self._command.decode("latin-1"),
                "client": peer_text(self.transport.getPeer()),
                "time_taken": time.monotonic() - self.head_started if self.head_started else 0,
                "size": size,
            },
        )


def peer_text(address):
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    return f"{host}:{port}" if host is not None else str(address)
