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
"""

import os
import re
import sys
from http import HTTPStatus

# daphne.cli imports daphne.server first, which installs Twisted's asyncio reactor.
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from autobahn.websocket.types import ConnectionDeny  # isort: skip  (after the reactor is installed)

import autobahn.twisted.websocket  # noqa: E402  isort: skip
import autobahn.websocket.protocol  # noqa: E402  isort: skip

DENIAL_EXTENSION = "websocket.http.response"


def _plain(value, *args, **kwargs):
    return value


# Autobahn formats the arguments of its debug log calls (colored text through click) before the
# logger drops them: on every frame sent and every read, ~5 % of the server's CPU under OpAMP
# heartbeats (docs/benchmarks.md). Its debug messages keep the raw values instead.
for _module in (autobahn.websocket.protocol, autobahn.twisted.websocket):
    _module.hltype = _module.hlval = _plain

TOKEN_IN_QUERY = re.compile(r"([?&])token=[^&\s'\"]*")


class FlowGateWebSocketProtocol(WebSocketProtocol):
    """Daphne's WebSocket protocol plus the ASGI denial response and RFC 6455 close codes."""

    # Close codes a server may send (RFC 6455 7.4.1) that Autobahn's sendClose() refuses: it
    # takes only 1000 and 3000-4999. OpAMP asks for 1009; a revoked token closes with 1008.
    PROTOCOL_CLOSE_CODES = {1001, 1008, 1009, 1011}
    denial = None  # {"status", "headers", "body"} while the application sends its refusal

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

    def configure_websockets(self):
        # Called by run() once the WebSocket factory exists, before the reactor starts.
        self.ws_factory.protocol = FlowGateWebSocketProtocol
        self.ws_factory.setProtocolOptions(failByDrop=False)
        if self.then_ready:
            self.then_ready()

    def log_action(self, protocol, action, details):
        # The access log records the request URI, query string included: hide OpAMP tokens.
        if isinstance(details.get("path"), str):
            details = {**details, "path": TOKEN_IN_QUERY.sub(r"\1token=[hidden]", details["path"])}
        super().log_action(protocol, action, details)

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            scope = {**scope, "extensions": {**scope.get("extensions", {}), DENIAL_EXTENSION: {}}}
        return super().create_application(protocol, scope)


class FlowGateCommandLine(CommandLineInterface):
    description = "FlowGate: Daphne with the OpAMP WebSocket limits and 401 refusals"
    server_class = FlowGateServer

    def __init__(self):
        super().__init__()
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")
        from django.conf import settings

        limit = settings.FLOWGATE_OPAMP_MAX_MESSAGE_BYTES
        self.parser.set_defaults(websocket_max_message_size=limit, websocket_max_frame_size=limit)


def main(argv=None):
    FlowGateCommandLine().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
