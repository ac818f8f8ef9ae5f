"""The work of one POST /v1/metrics, run off the event loop (views.py): authenticate, read, decode, roll up.

Each step raises a Refusal carrying the HTTP status and a message safe to show the caller.
"""

import zlib

from django.conf import settings

from core_app import ratelimit
from telemetry_app import credentials, otlp, rollups

AUTH_FAILURES = "telemetry-auth-failures"


class Refusal(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def authenticate(authorization: str, client: str) -> credentials.Verified:
    """The accepted credential of an `Authorization: Bearer fgt_…` header, or Refusal: 401 for a refused one
    (counted against the client's address), 429 once the address is over FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE."""
    rate = ratelimit.setting_rate("FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE")
    verdict = ratelimit.peek(AUTH_FAILURES, client, rate)
    if not verdict.allowed:
        raise Refusal(429, "too many refused telemetry credentials from this address", verdict.retry_after)
    try:
        return credentials.verify(credentials.parse_bearer(authorization))
    except credentials.CredentialError as error:
        ratelimit.hit(AUTH_FAILURES, client, rate)
        raise Refusal(401, str(error)) from None


def read_body(request) -> bytes:
    """The request body, gunzipped when sent so, within FLOWGATE_TELEMETRY_MAX_BODY_BYTES (as sent) and
    FLOWGATE_TELEMETRY_MAX_DECOMPRESSED_BYTES (inflated). A gzip bomb stops one byte past the limit."""
    limit = settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES
    data = request.read(limit + 1)
    if len(data) > limit:
        raise Refusal(413, f"the body exceeds the {limit}-byte limit")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
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


def store(credential: credentials.Verified, request) -> bytes:
    """Read, decode and roll up the request's metrics for the credential's gateway; the OTLP response."""
    body = read_body(request)
    try:
        metrics = otlp.decode(body)
    except otlp.MalformedMetrics as error:
        raise Refusal(400, str(error)) from None
    outcome = rollups.ingest(
        credential.gateway, otlp.points(metrics), minute_retention_hours=credential.minute_retention_hours
    )
    return otlp.response(outcome.rejected, outcome.message())
