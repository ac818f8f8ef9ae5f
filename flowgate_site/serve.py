"""Run FlowGate under Daphne: `python -m flowgate_site.serve [daphne options] flowgate_site.asgi:application`.

Daphne's own command line (every option works the same) with what the OpAMP endpoint needs:

- The WebSocket message and frame limits default to FLOWGATE_OPAMP_MAX_MESSAGE_BYTES instead
  of Daphne's 1 MiB (`--websocket-max-message-size` still overrides), and a message over the
  limit is answered with close code 1009 (Message Too Big), as OpAMP asks: Autobahn drops the
  TCP connection without a close frame by default.
- The ASGI "websocket.http.response" extension, so that a consumer can refuse a handshake with
  its own HTTP response: OpAMP wants 401 for a bad token, plain Daphne always answers 403.
- A consumer may close with the protocol codes 1008 (policy violation: revoked token) and 1009;
  under plain Daphne such a close fails and Daphne closes with 1011 instead.
- The access log hides `token=` query parameters (OpAMP tokens of clients that cannot send
  headers); stock Daphne logs the whole URI.
- Shutting down with open connections cancels the running applications and skips the ones that
  ended (Daphne's own shutdown raised KeyError on those); a close reported twice is ignored.
  Daphne's sweep, every second, reaps ended applications and drops closed connections.
- WebSocket frames are sent at once when nothing is queued before them, not on the reactor's
  next turn (flowgate_site.direct_write; FLOWGATE_DIRECT_WRITE=false turns it off).
- That one only makes the server cheaper and relies on private names of Twisted: it runs only on
  the tested versions of Daphne, Twisted and Autobahn (flowgate_site.server_extensions,
  otherwise Twisted's own write path and a logged warning). The others are kept on every version,
  and the server does not start if a name one of them needs is gone.
- SIGUSR1 logs how many connections and running application instances the server holds.
- Without a broker (the embedded defaults) the process also runs the periodic tasks and the
  rollout ticks a Celery worker would (flowgate_site.embedded_beat).
- `--workers N` starts N such processes on the same ports (flowgate_site.workers; needs
  REDIS_URL and PostgreSQL).
- Request bodies over their path's limit (FLOWGATE_REQUEST_BODY_LIMITS) are answered 413 while
  they arrive, before the application or authentication reads them, and a connection whose
  request line and headers are not complete within FLOWGATE_HTTP_HEADER_TIMEOUT_SECONDS is
  answered 408 and closed (flowgate_site.http_channel; stock Daphne holds both indefinitely).
"""

import asyncio
import logging
import os
import re
import signal
import sys
from http import HTTPStatus

# daphne.cli imports daphne.server first, which installs Twisted's asyncio reactor.
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from autobahn.websocket.types import ConnectionDeny  # isort: skip  (after the reactor is installed)

from flowgate_site import direct_write, embedded_beat, http_channel, server_extensions, workers  # noqa: E402  isort: skip
from flowgate_site.body_limits import BodyLimits  # noqa: E402  isort: skip

from twisted.internet import defer, reactor  # noqa: E402  isort: skip  (the reactor daphne.server installed)
from django.conf import settings  # noqa: E402  isort: skip  (read lazily, once the command line set the module)

logger = logging.getLogger("daphne.server")
DENIAL_EXTENSION = "websocket.http.response"


TOKEN_IN_QUERY = re.compile(r"([?&])token=[^&\s'\"]*")


class FlowGateWebSocketProtocol(WebSocketProtocol):
    """Daphne's WebSocket protocol plus the ASGI denial response and RFC 6455 close codes."""

    # Close codes a server may send (RFC 6455 7.4.1) that Autobahn's sendClose() refuses: it
    # takes only 1000 and 3000-4999. OpAMP asks for 1009; a revoked token closes with 1008.
    PROTOCOL_CLOSE_CODES = {1001, 1008, 1009, 1011}
    denial = None  # {"status", "headers", "body"} while the application sends its refusal
    send_at_once = True  # frames to the socket at once (flowgate_site.direct_write); FLOWGATE_DIRECT_WRITE

    def connectionMade(self):
        if self.send_at_once:
            direct_write.install(self.transport)
        super().connectionMade()

    def handle_reply(self, message):
        kind = message.get("type")
        if kind == "websocket.http.response.start" and self.state == self.STATE_CONNECTING:
            self.denial = {"status": message["status"], "headers": message.get("headers", []), "body": b""}
        elif kind == "websocket.http.response.body" and self.denial is not None:
            self.denial["body"] += message.get("body", b"")
            if not message.get("more_body", False):
                self.serverDeny()
        else:
            super().handle_reply(message)

    def serverClose(self, code=None):
        if code in self.PROTOCOL_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code)

    def serverDeny(self):
        """Like Daphne's serverReject(), with the application's status instead of 403."""
        status = HTTPStatus(self.denial["status"])
        self.handshake_deferred.errback(ConnectionDeny(code=status.value, reason=status.phrase))
        del self.handshake_deferred
        self.server.protocol_disconnected(self)
        client = f"{self.client_addr[0]}:{self.client_addr[1]}" if self.client_addr else None
        self.server.log_action("websocket", "rejected", {"path": self.request.path, "client": client})

    def sendHttpErrorResponse(self, code, reason, responseHeaders=None):
        """Autobahn's error response carries no body; a denial sends the application's."""
        if self.denial is None:
            super().sendHttpErrorResponse(code, reason, responseHeaders)
            return
        body = self.denial["body"]
        lines = [f"HTTP/1.1 {code} {reason}"]
        lines += [f"{name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in self.denial["headers"]]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        self.sendData("\r\n".join(lines).encode("latin-1") + body)


class FlowGateServer(Server):
    """Daphne's server with FlowGateWebSocketProtocol and 1009 closes for oversized messages."""

    def __init__(self, *args, ready_callable=None, **kwargs):
        self.then_ready = ready_callable
        super().__init__(*args, ready_callable=self.configure_websockets, **kwargs)
        # After Daphne's command line configured logging, before any connection: the warnings show.
        self.extensions = server_extensions.choose(settings)

    def configure_websockets(self):
        # Called by run() once the WebSocket factory exists, before the reactor starts.
        self.configure_http()
        self.ws_factory.protocol = FlowGateWebSocketProtocol
        FlowGateWebSocketProtocol.send_at_once = "direct_write" in self.extensions
        self.ws_factory.setProtocolOptions(failByDrop=False)
        if embedded_beat.wanted():
            reactor.callLater(0, embedded_beat.start)
        if self.signal_handlers:
            signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(self.log_connections))
        if self.then_ready:
            self.then_ready()

    def configure_http(self):
        """HTTP connections get the body limits and the header timeout (flowgate_site.http_channel)."""
        limits = BodyLimits.from_settings()
        http_channel.install(self.http_factory, limits, settings.FLOWGATE_HTTP_HEADER_TIMEOUT_SECONDS)

    def log_action(self, protocol, action, details):
        # The access log records the request URI, query string included: hide OpAMP tokens.
        if isinstance(details.get("path"), str):
            details = {**details, "path": TOKEN_IN_QUERY.sub(r"\1token=[hidden]", details["path"])}
        super().log_action(protocol, action, details)

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            scope = {**scope, "extensions": {**scope.get("extensions", {}), DENIAL_EXTENSION: {}}}
        return super().create_application(protocol, scope)

    def protocol_disconnected(self, protocol):
        """Ignore the close of a connection Daphne's sweep already dropped.

        Daphne may report the same close twice (a refused handshake, then the socket's close); if
        its sweep dropped the connection in between, its own method raised KeyError.
        """
        if protocol in self.connections:
            super().protocol_disconnected(protocol)

    def kill_all_applications(self):
        """Cancel every running application before the reactor stops; Twisted waits for them.

        Daphne's own version reads every connection's application instance, but an instance that
        ended is reaped by Daphne's sweep while its connection may still be open: shutting down
        then raised KeyError.
        """
        running = [
            instance
            for details in self.connections.values()
            if (instance := details.get("application_instance")) is not None and not instance.done()
        ]
        for instance in running:
            instance.cancel()
        logger.info("Killed %i pending application instances", len(running))
        waited = defer.Deferred.fromFuture(asyncio.gather(*running))
        waited.addErrback(lambda _failure: None)
        return waited

    def log_connections(self):
        """What SIGUSR1 asks for: the size of Daphne's connection table, to see it does not grow."""
        running = sum(1 for details in self.connections.values() if "application_instance" in details)
        logger.info("Connections: %d, running application instances: %d", len(self.connections), running)


class FlowGateCommandLine(CommandLineInterface):
    description = "FlowGate: Daphne with the OpAMP WebSocket limits and 401 refusals"
    server_class = FlowGateServer

    def __init__(self):
        super().__init__()
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")
        limit = settings.FLOWGATE_OPAMP_MAX_MESSAGE_BYTES
        self.parser.set_defaults(websocket_max_message_size=limit, websocket_max_frame_size=limit)


def main(argv=None):
    argv, count = workers.take_option(sys.argv[1:] if argv is None else argv)
    if count > 1:
        sys.exit(workers.run(argv, count))
    if os.environ.get(workers.REUSE_PORT_VARIABLE):
        argv = workers.adopt_reused_ports(argv)  # one of the processes started by --workers
    FlowGateCommandLine().run(argv)


if __name__ == "__main__":
    main()
