"""The work of one POST /v1/metrics (views.py, endpoint.py): authenticate, read, decode off the event loop
(prepare()), then roll up with the requests that arrive together (batch.py's group commit: commit() for a
request prepared in a worker thread, store() for one prepared in the group commit's thread).

Each step raises a Refusal carrying the HTTP status and a message safe to show the caller.
"""

import asyncio
import zlib
from dataclasses import dataclass

from django.conf import settings

from core_app import ratelimit
from telemetry_app import batch, credentials, otlp

AUTH_FAILURES = "telemetry-auth-failures"


class Refusal(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def authenticate(authorization: str, client: str) -> credentials.Verified:
    """The accepted credential of an `Authorization: Bearer fgt_…` header, or Refusal: 401 for a refused one
    (counted against the client's address), 429 once the address is over FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE.

    A credential this process accepted within FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS (credentials.cache)
    is no guess and needs no lookup: it goes through without asking the rate limit (a cache round trip),
    even from an address that refused ones are coming from (a NAT shared with a misconfigured collector)."""
    raw = credentials.parse_bearer(authorization)
    cached = credentials.cached(raw)
    if cached is not None:
        return cached
    rate = ratelimit.setting_rate("FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE")
    verdict = ratelimit.peek(AUTH_FAILURES, client, rate)
    if not verdict.allowed:
        raise Refusal(429, "too many refused telemetry credentials from this address", verdict.retry_after)
    try:
        return credentials.verify_cached(raw)
    except credentials.CredentialError as error:
        ratelimit.hit(AUTH_FAILURES, client, rate)
        raise Refusal(401, str(error)) from None


def read_body(request) -> bytes:
    """The body of a Django request, read to at most one byte past FLOWGATE_TELEMETRY_MAX_BODY_BYTES."""
    return request.read(settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES + 1)


def inflate(data: bytes, encoding: str) -> bytes:
    """The request body, gunzipped when sent so, within FLOWGATE_TELEMETRY_MAX_BODY_BYTES (as sent) and
    FLOWGATE_TELEMETRY_MAX_DECOMPRESSED_BYTES (inflated). A gzip bomb stops one byte past the limit."""
    limit = settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES
    if len(data) > limit:
        raise Refusal(413, f"the body exceeds the {limit}-byte limit")
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gunzip(data, settings.FLOWGATE_TELEMETRY_MAX_DECOMPRESSED_BYTES)
    if encoding not in ("", "identity"):
        raise Refusal(415, f"unsupported Content-Encoding {encoding[:40]!r}: send gzip or none")
    return data


def gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise Refusal(400, "invalid gzip body") from None
    if len(out) > limit:
        raise Refusal(413, f"the decompressed body exceeds the {limit}-byte limit")
    if not inflater.eof:
        raise Refusal(400, "invalid gzip body: truncated")
    return out


@dataclass
class Prepared:
    """A request checked and decoded, ready to be written: its gateway and the points we keep."""

    credential: credentials.Verified
    points: list


def prepare(authorization: str, encoding: str, data: bytes, client: str) -> Prepared:
    """Authenticate, inflate and decode a request (blocking: run it in a worker thread); Refusal when refused."""
    credential = authenticate(authorization, client)
    body = inflate(data, encoding)
    try:
        metrics = otlp.decode(body)
    except otlp.MalformedMetrics as error:
        raise Refusal(400, str(error)) from None
    return Prepared(credential, list(otlp.points(metrics)))


async def commit(prepared: Prepared) -> bytes:
    """Roll up a prepared request's metrics for the credential's gateway, in the next group commit; the OTLP
    response once they are durable. DatabaseError when the batch's transaction failed; Refusal(401) for a
    gateway gone."""
    credential = prepared.credential
    future = batch.group_commit.submit(credential.gateway, prepared.points, credential.minute_retention_hours)
    return answer(credential, await asyncio.wrap_future(future))


async def store(authorization: str, encoding: str, data: bytes, client: str) -> bytes:
    """prepare() and commit() in one: the request is prepared in the group commit's thread (batch.py)."""
    found = []

    def work():
        prepared = prepare(authorization, encoding, data, client)
        found.append(prepared.credential)
        return prepared

    outcome = await batch.group_commit.run(work)
    return answer(found[0], outcome)


def answer(credential: credentials.Verified, outcome) -> bytes:
    if outcome.gone:
        credentials.forget(credential.gateway.pk)
        raise Refusal(401, "unknown telemetry credential")
    return otlp.response(outcome.rejected, outcome.message())
