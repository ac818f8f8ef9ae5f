"""POST /v1/metrics: a gateway's collector pushes its own metrics (OTLP/HTTP, protobuf, maybe gzip).

Thin and asynchronous: load shedding first (503 + Retry-After past FLOWGATE_TELEMETRY_MAX_INFLIGHT
requests in this process), then the credential check, gunzip and protobuf decoding in a worker thread,
and the database writes in the group commit's thread (batch.py), never on the event loop that also
serves OpAMP WebSockets. `python -m flowgate_site.serve` answers /v1/metrics through endpoint.py, in
front of Django's middleware, with the same respond().
The body itself is bounded before the application sees it (flowgate_site/body_limits.py).
"""

import logging

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core_app.ratelimit import client_address
from telemetry_app import services

logger = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"


class Inflight:
    """Requests of this endpoint being handled by this process (counted on the event loop: no lock)."""

    count = 0

    def __enter__(self):
        Inflight.count += 1

    def __exit__(self, *exc):
        Inflight.count -= 1


@csrf_exempt
@require_POST
async def metrics(request):
    """The view as Django routes it (the test client, a server without endpoint.py in front); endpoint.py serves
    the same answers in front of Django's middleware."""

    async def store():
        return await services.commit(await database_sync_to_async(handle, thread_sensitive=False)(request))

    status, headers, body = await respond(request.content_type, store)
    return HttpResponse(body, content_type=headers.pop("Content-Type"), status=status, headers=headers)


async def respond(content_type: str, store) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a request whose Content-Type is `content_type`; `store()` is awaited for the
    OTLP response (credential, body and decoding checked and the rows written off the event loop: services.py)."""
    if Inflight.count >= settings.FLOWGATE_TELEMETRY_MAX_INFLIGHT:
        logger.warning("telemetry load shedding: %d requests in flight", Inflight.count)
        return unavailable("too many telemetry requests in flight")
    with Inflight():
        if content_type != PROTOBUF:
            return plain(415, f"OTLP/HTTP metrics need Content-Type: {PROTOBUF}")
        try:
            data = await store()
        except services.Refusal as refusal:
            headers = {}
            if refusal.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="flowgate-telemetry"'
            if refusal.retry_after is not None:
                headers["Retry-After"] = str(refusal.retry_after)
            return plain(refusal.status, refusal.args[0], headers)
        except DatabaseError:
            logger.exception("could not store gateway telemetry: the database failed")
            return unavailable("the database is unavailable")
        return 200, {"Content-Type": PROTOBUF}, data


def handle(request) -> services.Prepared:
    """The blocking part of a Django request: credential, body, decoding."""
    return services.prepare(
        request.headers.get("Authorization", ""),
        request.headers.get("Content-Encoding", ""),
        services.read_body(request),
        client_address(request),
    )


def plain(status, text, headers=None) -> tuple[int, dict, bytes]:
    return status, {**(headers or {}), "Content-Type": "text/plain; charset=utf-8"}, (text + "\n").encode()


def unavailable(text):
    retry = settings.FLOWGATE_TELEMETRY_RETRY_AFTER_SECONDS
    return plain(503, f"{text}; retry in {retry} s", {"Retry-After": str(retry)})
