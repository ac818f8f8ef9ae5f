"""Per-address admission of OpAMP WebSocket handshakes and plain-HTTP polls (docs/security.md).

Every handshake or poll from an address counts against FLOWGATE_OPAMP_CONNECT_RATE, which is
generous: a fleet behind one NAT reconnects all its agents at once after a server restart. Every
refused token counts against FLOWGATE_OPAMP_AUTH_FAILURE_RATE, which is strict: that is what
token guessing looks like. Over either, the address gets 429 + Retry-After before its token is
looked at (the spec's throttling answer for both transports).

The counters live in the cache (core_app.ratelimit), shared by all server processes; the
async functions here count in a worker thread, never on the event loop.
"""

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings

from core_app import ratelimit

CONNECTS = "opamp-connect"
FAILURES = "opamp-auth-failures"
# ASGI extension that lets a WebSocket refusal carry its own HTTP response (flowgate_site/serve.py).
DENIAL_EXTENSION = "websocket.http.response"


@dataclass(frozen=True)
class Denial:
    """A refusal before authentication: HTTP status, seconds to wait, and a sentence for people."""

    status: int
    retry_after: int
    text: str

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"retry-after", str(self.retry_after).encode()),
        ]


def check(client: str) -> Denial | None:
    """Count a handshake or poll of `client`; a Denial when the address is over one of its limits."""
    failures = ratelimit.peek(FAILURES, client, ratelimit.setting_rate("FLOWGATE_OPAMP_AUTH_FAILURE_RATE"))
    if not failures.allowed:
        return Denial(429, failures.retry_after, "Too many refused OpAMP tokens from this address; retry later.")
    connects = ratelimit.hit(CONNECTS, client, ratelimit.setting_rate("FLOWGATE_OPAMP_CONNECT_RATE"))
    if not connects.allowed:
        return Denial(429, connects.retry_after, "Too many OpAMP connections from this address; retry later.")
    return None


def count_failure(client: str) -> None:
    """A token of `client` was refused."""
    ratelimit.hit(FAILURES, client, ratelimit.setting_rate("FLOWGATE_OPAMP_AUTH_FAILURE_RATE"))


async def admit(client: str) -> Denial | None:
    return await sync_to_async(check, thread_sensitive=False)(client)


async def note_failure(client: str) -> None:
    await sync_to_async(count_failure, thread_sensitive=False)(client)


def unavailable() -> Denial:
    """The database could not authenticate the agent: 503, retry after FLOWGATE_OPAMP_RETRY_AFTER_SECONDS."""
    return Denial(
        503, settings.FLOWGATE_OPAMP_RETRY_AFTER_SECONDS, "The server cannot reach its database; retry later."
    )


async def send_denial(send, scope, denial: Denial) -> bool:
    """Answer a WebSocket handshake with the denial as an HTTP response; False if the server cannot."""
    if DENIAL_EXTENSION not in scope.get("extensions", {}):
        return False
    await send({"type": "websocket.http.response.start", "status": denial.status, "headers": denial.headers()})
    await send({"type": "websocket.http.response.body", "body": (denial.text + "\n").encode()})
    return True
