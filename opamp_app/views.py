"""The OpAMP plain-HTTP transport: POST an AgentToServer, get a ServerToAgent (docs/opamp.md).

Same paths as the WebSocket endpoint (Daphne sends upgrades to the consumer, everything else
here). Each request: load shedding, authentication (one query, which also loads the gateway's
state), body (gzip, size limit), protocol.process() with the Session kept in the cache between
polls, a write only when something changed (group-committed, writes.py), the reply (gzip when accepted).
"""

import functools
import logging
import uuid

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core_app import agent_urls
from core_app.ratelimit import client_address
from gateways_app.tokens import TokenError
from opamp_app import admission, offload, own_metrics, services, writes
from opamp_app.presence import registry
from opamp_core import bounds, compression, framing, messages, protocol

logger = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"


class Inflight:
    """Requests being handled by this process (the event loop is single-threaded: no lock needed)."""

    count = 0

    def __enter__(self):
        Inflight.count += 1

    def __exit__(self, *exc):
        Inflight.count -= 1


def session_key(gateway_id) -> str:
    return f"opamp:http-session:{gateway_id}"


@csrf_exempt
@require_POST
async def opamp_http(request):
    """POST /v1/opamp (and /api/v1/opamp/v1/opamp) with `Content-Type: application/x-protobuf`."""
    if Inflight.count >= settings.FLOWGATE_OPAMP_HTTP_MAX_INFLIGHT:
        return shed_load(request)
    with Inflight():
        client = client_address(request)
        denial = await admission.admit(client)
        if denial is not None:
            return denied(request, denial)
        agent, refusal = await authenticate(request, client)
        if refusal is not None:
            return refusal
        if request.content_type != PROTOBUF:
            return plain(415, f"OpAMP over HTTP needs Content-Type: {PROTOBUF}")
        limits, large = services.report_limits(), is_large(request)
        try:
            message = await offload.run(large, read_message, request, limits)
        except framing.MessageTooBig as error:
            return plain(413, str(error))
        except bounds.ReportRefused as error:
            return await refuse_report(request, agent, error)
        except framing.FramingError as error:
            return protobuf(request, messages.bad_request(request_uid(request), str(error)), status=400)
        return await answer(request, agent, message, limits=limits, large=large)


async def authenticate(request, client):
    """(Agent, None), or (None, the answer): 401 for a refused token (counted against the client's
    address), 503 + UNAVAILABLE when the database cannot say (an outage is no reason to refuse a token)."""
    raw_token = services.extract_token(request.headers.get("Authorization", ""), request.GET.get("token", ""))
    try:
        return await database_sync_to_async(services.authenticate, thread_sensitive=False)(raw_token), None
    except TokenError as error:
        await admission.note_failure(client)
        return None, refused(str(error))
    except DatabaseError:
        logger.exception("could not authenticate an OpAMP HTTP request: the database failed")
        return None, unavailable(request, request_uid(request))


def is_large(request) -> bool:
    """Whether the body is read, checked, parsed and processed off the event loop (opamp_app/offload.py).

    Bodies of unknown length (chunked) and gzipped ones (small on the wire, maybe not inflated) are.
    """
    length = request.META.get("CONTENT_LENGTH") or ""
    if not length.isdigit() or request.headers.get("Content-Encoding", "").strip().lower() == "gzip":
        return True
    return int(length) >= settings.FLOWGATE_OPAMP_THREAD_BYTES


def read_message(request, limits):
    """The AgentToServer of the request body (gunzipped when sent so), within the size limit and `limits`."""
    limit = settings.FLOWGATE_OPAMP_MAX_MESSAGE_BYTES
    data = request.read(limit + 1)
    if len(data) > limit:
        raise framing.MessageTooBig(f"the body exceeds the {limit}-byte limit")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding == "gzip":
        data = compression.gunzip(data, limit)
    elif encoding not in ("", "identity"):
        raise framing.FramingError(f"unsupported Content-Encoding {encoding!r}")
    return framing.parse(data, max_size=limit, check=functools.partial(bounds.check, limits=limits))


async def refuse_report(request, agent, refused: bounds.ReportRefused):
    """A report over a bound: 400 BAD_REQUEST naming it; its number is taken as seen (not asked for again)."""
    logger.warning("refused an OpAMP report of gateway %s: %s", agent.gateway.pk, refused)
    key = session_key(agent.gateway.pk)
    session = await cache.aget(key) or protocol.Session()
    if refused.sequence_num is not None:
        session = protocol.updated(session, sequence_num=refused.sequence_num)
        await cache.aset(key, session, timeout=settings.FLOWGATE_OPAMP_HTTP_SESSION_SECONDS)
    uid = agent.gateway.instance_uid.bytes if agent.gateway.instance_uid else request_uid(request)
    return protobuf(request, messages.bad_request(uid, str(refused)), status=400)


async def answer(request, agent, message, *, limits=None, large=False):
    gateway = agent.gateway
    state = services.load_state(
        agent,
        opamp_endpoint=agent_urls.request_endpoint(request),
        metrics_endpoint=own_metrics.request_endpoint(request),
    )
    key = session_key(gateway.pk)
    session = await cache.aget(key) or protocol.Session()
    limits = limits or services.report_limits()
    result = await offload.run(large, protocol.process, message, state, session, now=timezone.now(), limits=limits)
    if result.disconnect:
        registry.forget_http_agent(gateway.pk)  # before offline is saved: presence must not undo it
    try:
        result = await writes.save_result(agent, state, result, transport="http")
    except writes.ReportNotStored as error:
        # Refused values, not an outage: BAD_REQUEST once, and the next poll goes on from this one.
        logger.error("could not store the OpAMP report of gateway %s: %s", gateway.pk, error)
        await cache.aset(key, result.session, timeout=settings.FLOWGATE_OPAMP_HTTP_SESSION_SECONDS)
        return protobuf(request, messages.bad_request(state.instance_uid or b"", str(error)), status=400)
    except DatabaseError:
        logger.exception("could not save the OpAMP report of gateway %s", gateway.pk)
        await cache.adelete(key)  # the next poll asks for the full state
        return unavailable(request, state.instance_uid or b"")
    await cache.aset(key, result.session, timeout=settings.FLOWGATE_OPAMP_HTTP_SESSION_SECONDS)
    await note_presence(gateway.pk, protocol.apply_changes(state, result.changes).status)
    return protobuf(request, result.reply, status=400 if result.error else 200)


async def note_presence(gateway_id, status):
    if status == protocol.OFFLINE:  # said goodbye (or sent a message right after it)
        registry.forget_http_agent(gateway_id)
    else:
        registry.saw_http_agent(gateway_id, status)
    try:
        await registry.write_presence_if_due()
    except DatabaseError:  # written on a later request; the reply does not depend on it
        logger.exception("could not write OpAMP presence")


def protobuf(request, message, status=200, headers=None):
    """A protobuf response, gzipped when the client accepts it; 500 if over the size limit."""
    data = message.SerializeToString()
    limit = settings.FLOWGATE_OPAMP_MAX_MESSAGE_BYTES
    if len(data) > limit:
        # The spec: an oversized response must not be sent; record that it was discarded.
        logger.error("discarded a %d-byte OpAMP response over the %d-byte limit", len(data), limit)
        return plain(500, "The response exceeds the message size limit.")
    response = HttpResponse(content_type=PROTOBUF, status=status, headers=headers)
    if compression.accepts_gzip(request.headers.get("Accept-Encoding", "")):
        data = compression.gzip_body(data)
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    response.content = data
    return response


def plain(status, text, headers=None):
    return HttpResponse(text + "\n", content_type="text/plain; charset=utf-8", status=status, headers=headers)


def refused(reason):
    logger.info("OpAMP HTTP request refused: %s", reason)
    challenge = {"WWW-Authenticate": 'Bearer realm="flowgate", error="invalid_token"'}
    return plain(401, f"OpAMP token refused: {reason}", headers=challenge)


def request_uid(request) -> bytes:
    """The agent's uid from the OpAMP-Instance-UID header (for replies before the body is read)."""
    try:
        return uuid.UUID(request.headers.get("OpAMP-Instance-UID", "")).bytes
    except ValueError:
        return b""


def unavailable(request, uid):
    retry = settings.FLOWGATE_OPAMP_RETRY_AFTER_SECONDS
    reply = messages.unavailable(uid, retry_after_seconds=retry)
    return protobuf(request, reply, status=503, headers={"Retry-After": str(retry)})


def denied(request, denial):
    """Over the address's admission limits (admission.py): the denial's status, Retry-After and UNAVAILABLE."""
    reply = messages.unavailable(request_uid(request), retry_after_seconds=denial.retry_after, message=denial.text)
    return protobuf(request, reply, status=denial.status, headers={"Retry-After": str(denial.retry_after)})


def shed_load(request):
    """Over FLOWGATE_OPAMP_HTTP_MAX_INFLIGHT: 503 + Retry-After and UNAVAILABLE, before any work."""
    logger.warning("OpAMP HTTP load shedding: %d requests in flight", Inflight.count)
    return unavailable(request, request_uid(request))
