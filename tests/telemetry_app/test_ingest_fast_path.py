"""The ingest's fast path (docs/telemetry.md "Ingest cost"): the ASGI endpoint in front of Django, the credential
cache and its bounds, the group commit of concurrent requests.

The endpoint's worker threads and the group commit's thread use their own connections: data is committed
(`transaction=True`).
"""

import asyncio
import gzip
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from flowgate_site.asgi import application as site_application
from gateways_app.models import Gateway
from telemetry_app import batch, credentials, endpoint, otlp, rollups, views
from telemetry_app.models import Rollup, TelemetryCredential
from tests.telemetry_app.conftest import accepted_logs, gauge, now_ns, post, request_of, totals

pytestmark = pytest.mark.django_db(transaction=True)

LOGS_ACCEPTED = ("receiver", "filelog", "logs", "accepted")


def report(value=10, start_ns=None):
    now = now_ns()
    return accepted_logs(value, start_ns=start_ns or now - 60 * 10**9, time_ns=now)


async def asgi_call(app, *, method="POST", path="/v1/metrics", headers=(), body=b"", chunks=None):
    """(status, {header: value}, body) of one HTTP request through an ASGI app, as Daphne passes it."""
    pending = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in (chunks or [])]
    pending.append({"type": "http.request", "body": body, "more_body": False})
    sent = []

    async def receive():
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()  # the client stays until answered (Django listens for a disconnect)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("10.0.0.7", 50000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    found = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start["status"], found, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def metrics_headers(credential, **extra):
    headers = [("Content-Type", "application/x-protobuf")]
    if credential:
        headers.append(("Authorization", credential))
    return headers + [(name.replace("_", "-"), value) for name, value in extra.items()]


def call(app=endpoint.application, **kwargs):
    return asyncio.run(asgi_call(app, **kwargs))


# The ASGI endpoint answers what the Django view answers.


def test_the_site_answers_v1_metrics_in_front_of_django(credential, gateway):
    status, headers, body = call(
        site_application, headers=metrics_headers(credential), body=report(9).SerializeToString()
    )
    assert status == 200, body
    assert headers["content-type"] == "application/x-protobuf"
    assert not ExportMetricsServiceResponse.FromString(body).HasField("partial_success")
    assert "vary" not in headers  # Django's middleware (sessions: Vary: Cookie) never saw it
    assert totals(gateway) == {LOGS_ACCEPTED: 9}
    status, headers, _ = call(site_application, method="GET", path="/login/")
    assert "Cookie" in headers["vary"]  # every other path is Django's


@pytest.mark.parametrize(
    ("case", "status", "text"),
    [
        ("no credential", 401, b"missing or malformed"),
        ("wrong type", 415, b"application/x-protobuf"),
        ("brotli", 415, b"Content-Encoding"),
        ("garbage", 400, b"not an OTLP ExportMetricsServiceRequest"),
        ("broken gzip", 400, b"invalid gzip"),
        ("get", 405, b"only POST"),
    ],
)
def test_refusals_are_the_django_views(credential, case, status, text):
    headers, body = metrics_headers(credential), report().SerializeToString()
    method = "POST"
    if case == "no credential":
        headers = metrics_headers(None)
    elif case == "wrong type":
        headers = [("Content-Type", "application/json"), ("Authorization", credential)]
    elif case == "brotli":
        headers = metrics_headers(credential, Content_Encoding="br")
    elif case == "garbage":
        body = b"\x0a\xff\xff\xff\xff\x0f garbage"
    elif case == "broken gzip":
        headers, body = metrics_headers(credential, Content_Encoding="gzip"), b"\x1f\x8b\x08\x00 not gzip"
    elif case == "get":
        method = "GET"
    answer_status, answer_headers, answer_body = call(method=method, headers=headers, body=body)
    assert (answer_status, text in answer_body) == (status, True), answer_body
    if status == 401:
        assert answer_headers["www-authenticate"].startswith("Bearer")
    if status == 405:
        assert answer_headers["allow"] == "POST"
    assert not Rollup.objects.exists()


def test_a_body_over_the_limit_is_413_even_in_chunks(credential, settings):
    settings.FLOWGATE_TELEMETRY_MAX_BODY_BYTES = 1000
    status, _, body = call(headers=metrics_headers(credential), chunks=[b"\x00" * 600], body=b"\x00" * 600)
    assert status == 413, body
    assert not Rollup.objects.exists()


def test_a_gzipped_report_is_accepted_and_overload_is_503(credential, gateway, settings, monkeypatch):
    gzipped = gzip.compress(report(4).SerializeToString())
    assert call(headers=metrics_headers(credential, Content_Encoding="gzip"), body=gzipped)[0] == 200
    assert totals(gateway) == {LOGS_ACCEPTED: 4}
    settings.FLOWGATE_TELEMETRY_MAX_INFLIGHT = 2
    monkeypatch.setattr(views.Inflight, "count", 2)
    status, headers, _ = call(headers=metrics_headers(credential), body=report().SerializeToString())
    assert (status, headers["retry-after"]) == (503, str(settings.FLOWGATE_TELEMETRY_RETRY_AFTER_SECONDS))


# The credential cache: bounded in time, forgotten on rotation, never matching a wrong secret.


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(credentials.time, "monotonic", clock)
    credentials.cache.clear()
    yield clock
    credentials.cache.clear()


def test_an_accepted_credential_is_checked_again_only_after_the_cache_time(
    credential, clock, settings, django_assert_num_queries
):
    raw = credentials.parse_bearer(credential)
    credentials.verify_cached(raw)
    with django_assert_num_queries(0):
        credentials.verify_cached(raw)
    clock.now += settings.FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS
    with django_assert_num_queries(1):
        credentials.verify_cached(raw)


def test_a_deleted_credential_is_refused_once_the_cache_time_is_over(client, credential, gateway, clock, settings):
    """The documented bound: a credential deleted in the database (or by another server process) is refused
    FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS after this process last checked it, at the latest."""
    start = now_ns() - 60 * 10**9
    assert post(client, credential, report(1, start)).status_code == 200
    TelemetryCredential.objects.all().delete()
    clock.now += settings.FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS - 1
    assert post(client, credential, report(2, start)).status_code == 200  # still within the bound
    clock.now += 1
    response = post(client, credential, report(3, start))
    assert response.status_code == 401
    assert totals(gateway) == {LOGS_ACCEPTED: 2}


def test_rotation_forgets_the_cached_credential_at_once(client, credential, gateway, clock):
    """Rotated in this process: the old credential is checked on every request again, so the end of its grace
    period is exact, cache or not."""
    assert post(client, credential, report(1)).status_code == 200  # cached
    credentials.rotate(gateway)
    TelemetryCredential.objects.filter(replaced_at__isnull=False).update(
        replaced_at=timezone.now() - timedelta(minutes=61)
    )
    response = post(client, credential, report(2))
    assert response.status_code == 401
    assert b"replaced" in response.content


def test_a_wrong_secret_never_matches_a_cached_credential(client, credential, clock):
    assert post(client, credential, report(1)).status_code == 200
    forged = credential[:-4] + ("AAAA" if not credential.endswith("AAAA") else "BBBB")
    assert post(client, forged, report(2)).status_code == 401


def test_a_gateway_deleted_while_its_credential_is_cached_is_refused_at_once(credential, gateway, clock):
    headers = metrics_headers(credential)
    assert call(headers=headers, body=report(1).SerializeToString())[0] == 200
    Gateway.objects.filter(pk=gateway.pk).delete()
    status, _, body = call(headers=headers, body=report(2).SerializeToString())
    assert status == 401, body  # not a 503 (a batch failing on the missing gateway) nor a 200
    assert not Rollup.objects.exists()
    assert credentials.cached(credentials.parse_bearer(credential)) is None


def test_a_cached_credential_is_not_held_up_by_its_addresss_refusals(client, credential, gateway, clock, settings):
    """The limit stops guessing; a credential accepted a moment ago is no guess (a NAT shared with a
    misconfigured collector). A credential not cached still gets the 429 (test_endpoint.py)."""
    settings.FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE = "2/m"
    assert post(client, credential, report(1)).status_code == 200
    for _ in range(2):
        assert post(client, "Bearer fgt_000000000000_guess", report()).status_code == 401
    assert post(client, "Bearer fgt_000000000000_guess", report()).status_code == 429
    assert post(client, credential, report(2)).status_code == 200


# The group commit.


def test_concurrent_requests_are_written_in_one_transaction(gateway, org, settings, monkeypatch):
    settings.FLOWGATE_TELEMETRY_BATCH_WINDOW_MS = 300
    gateways = [gateway, *(Gateway.objects.create(organization=org, name=f"batch-gw-{i}") for i in range(2))]
    headers = [metrics_headers(credentials.telemetry_credential_for(gw)) for gw in gateways]
    ingest_many, batches = rollups.ingest_many, []

    def recording(items, now=None):
        batches.append(len(items))
        return ingest_many(items, now)

    monkeypatch.setattr(rollups, "ingest_many", recording)

    async def all_at_once():
        calls = [
            asgi_call(endpoint.application, headers=h, body=report(5 + i).SerializeToString())
            for i, h in enumerate(headers)
        ]
        return await asyncio.gather(*calls)

    answers = asyncio.run(all_at_once())
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert batches == [3]
    assert [totals(gw) for gw in gateways] == [{LOGS_ACCEPTED: 5}, {LOGS_ACCEPTED: 6}, {LOGS_ACCEPTED: 7}]


def test_a_batch_costs_the_same_queries_for_one_gateway_or_ten(gateway, org):
    gateways = [gateway] + [Gateway.objects.create(organization=org, name=f"batch-gw-{i}") for i in range(9)]
    start = now_ns() - 120 * 10**9

    def items(value, when):
        return [(gw, list(otlp.points(accepted_logs(value, start_ns=start, time_ns=when))), 48) for gw in gateways]

    rollups.ingest_many(items(10, now_ns() - 60 * 10**9))  # the state rows are created once
    with CaptureQueriesContext(connection) as one:
        rollups.ingest_many(items(20, now_ns() - 30 * 10**9)[:1])
    with CaptureQueriesContext(connection) as ten:
        rollups.ingest_many(items(30, now_ns())[1:] + items(30, now_ns())[:1])
    # lock the states, write them back, the rollups, the throughput rows; SQLite (embedded) writes each state apart
    if connection.vendor == "postgresql":
        assert len(ten.captured_queries) == len(one.captured_queries) == 6  # with BEGIN and COMMIT
    else:
        assert len(ten.captured_queries) == len(one.captured_queries) + 9
    assert [totals(gw) for gw in gateways] == [{LOGS_ACCEPTED: 30}] * 10


def test_two_requests_of_one_gateway_in_a_batch_count_in_order(gateway):
    # Both points in one minute (the previous minute's :20 and :21), whatever the time the test runs.
    minute = 60 * 10**9
    at = now_ns() // minute * minute - minute + 20 * 10**9
    start = at - 120 * 10**9
    first = request_of(
        *accepted_logs(10, start_ns=start, time_ns=at).resource_metrics[0].scope_metrics[0].metrics,
        gauge("otelcol_exporter_queue_size", 7, time_ns=at, exporter="otlphttp", data_type="logs"),
    )
    second = request_of(
        *accepted_logs(25, start_ns=start, time_ns=at + 10**9).resource_metrics[0].scope_metrics[0].metrics,
        gauge("otelcol_exporter_queue_size", 3, time_ns=at + 10**9, exporter="otlphttp", data_type="logs"),
    )
    outcomes = rollups.ingest_many([(gateway, list(otlp.points(first)), 48), (gateway, list(otlp.points(second)), 48)])
    assert [outcome.rejected for outcome in outcomes] == [0, 0]
    assert totals(gateway, measure="accepted") == {LOGS_ACCEPTED: 25}  # 10, then 15 more
    queue = Rollup.objects.get(measure="queue_size")
    assert (queue.value, queue.peak) == (3, 7)  # the last value, the peak of the two


def test_a_failed_batch_is_503_for_each_of_its_requests(credential, gateway, clock, settings, monkeypatch):
    settings.FLOWGATE_TELEMETRY_RETRY_AFTER_SECONDS = 25
    assert call(headers=metrics_headers(credential), body=report(1).SerializeToString())[0] == 200  # cached

    def failing(items, now=None):
        raise OperationalError("connection lost")

    monkeypatch.setattr(rollups, "ingest_many", failing)
    status, headers, _ = call(headers=metrics_headers(credential), body=report(2).SerializeToString())
    assert (status, headers["retry-after"]) == (503, "25")


def test_the_flusher_is_one_thread_and_answers_after_the_commit(gateway, credential):
    """The future resolves after ingest_many returned, i.e. after its transaction committed: a row is there."""
    future = batch.group_commit.submit(
        credentials.GatewayRef(pk=gateway.pk, organization_id=gateway.organization_id), list(otlp.points(report(3))), 48
    )
    outcome = future.result(timeout=10)
    assert not outcome.gone and outcome.rows == 1
    assert totals(gateway) == {LOGS_ACCEPTED: 3}
    assert batch.group_commit.thread.name == "telemetry-group-commit"
