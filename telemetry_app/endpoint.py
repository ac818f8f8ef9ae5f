"""POST /v1/metrics as a plain ASGI application, in front of Django's request pipeline (flowgate_site/asgi.py).

Why: at 5,000 gateways pushing every 30 s (about 170 requests a second), Django's handler and middleware
(sessions, CSRF, messages, CSP, security headers, URL resolution: none of which this endpoint uses) were
about half of the server's CPU per request. This app answers exactly what the Django view (views.py)
answers, through the same views.respond(): load shedding, Content-Type, credential, body limits, gzip,
decoding, the group commit. What it does itself is only HTTP: the method (405), reading the body (Daphne
has it all, already bounded by flowgate_site.http_channel; counted again here, one byte past the limit is
413), the headers, the client address (core_app.ratelimit.scope_address, as OpAMP's WebSocket uses).

Not applied here, on purpose: the HTTPS redirect (an OTLP exporter does not follow redirects; like
/v1/opamp, the endpoint is exempt), sessions, CSRF (no cookies: a bearer credential), the Host check
(nothing here builds a URL from the Host header).
"""

from django.conf import settings

from core_app.ratelimit import scope_address
from telemetry_app import services, views

PATH = "/v1/metrics"


def header(scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


async def read_body(receive, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes (the rest is not kept) or the client left."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts) if size <= limit else b"\0" * (limit + 1)


async def send_answer(send, status: int, headers: dict, body: bytes) -> None:
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def application(scope, receive, send):
    """The ASGI app of POST /v1/metrics (an HTTP scope of that path only)."""
    if scope["method"] != "POST":
        status, headers, body = views.plain(405, "only POST is allowed here", {"Allow": "POST"})
        await send_answer(send, status, headers, body)
        return
    data = await read_body(receive, settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES)
    if data is None:
        return
    content_type = header(scope, b"content-type").split(";", 1)[0].strip().lower()
    authorization = header(scope, b"authorization")
    encoding = header(scope, b"content-encoding")
    client = scope_address(scope)

    def store():
        return services.store(authorization, encoding, data, client)

    status, headers, body = await views.respond(content_type, store)
    await send_answer(send, status, headers, body)


def route(django_app):
    """An HTTP ASGI app: /v1/metrics here, every other path to `django_app`."""

    async def router(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == PATH:
            await application(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return router
