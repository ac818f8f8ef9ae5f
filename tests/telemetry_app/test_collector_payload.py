"""What the real collector sends (data/, captured by tests/telemetry_app/collector.py), posted to /v1/metrics.

The captured times are moved to now (all by the same offset) so that they fall in the kept range.
"""

import gzip

import pytest

from telemetry_app import otlp
from tests.telemetry_app.conftest import captured, now_ns, post, totals

pytestmark = pytest.mark.django_db(transaction=True)


def first_time(request):
    return min(point.time_unix_nano for point in _points(request))


def _points(request):
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                yield from getattr(metric, metric.WhichOneof("data")).data_points


def test_the_captured_reports_name_what_the_rollups_read():
    kept = {(p.component_kind, p.component, p.signal, p.measure, p.value) for p in otlp.points(captured("report_1.pb"))}
    assert kept == {
        ("receiver", "filelog", "logs", "accepted", 50),
        ("receiver", "filelog", "logs", "refused", 0),
        ("receiver", "filelog", "logs", "failed", 0),
        ("processor", "memory_limiter", "logs", "accepted", 50),
        ("processor", "memory_limiter", "logs", "incoming", 50),
        ("processor", "memory_limiter", "logs", "outgoing", 50),
        ("exporter", "otlphttp", "logs", "sent", 50),
        ("exporter", "otlphttp", "logs", "send_failed", 0),
        ("exporter", "otlphttp", "logs", "queue_size", 0),
        ("exporter", "otlphttp", "logs", "queue_capacity", 1000),
    }


def test_real_reports_roll_up_to_the_lines_read_and_sent_across_a_restart(client, credential, gateway):
    base = first_time(captured("report_1.pb"))
    now = now_ns() - 60 * 10**9
    for name in ("report_1.pb", "report_2.pb", "report_restart.pb"):
        body = gzip.compress(captured(name, shift_to_ns=now, base_ns=base).SerializeToString())
        response = post(client, credential, body, Content_Encoding="gzip")
        assert response.status_code == 200, response.content
    found = totals(gateway)
    # 50, then 30 more (80 in all), then a restarted collector that read the 80 lines again.
    assert found[("receiver", "filelog", "logs", "accepted")] == 160
    assert found[("processor", "memory_limiter", "logs", "incoming")] == 160
    assert found[("processor", "memory_limiter", "logs", "outgoing")] == 160
    assert found[("exporter", "otlphttp", "logs", "sent")] == 160
    assert ("exporter", "otlphttp", "logs", "send_failed") not in found  # never moved: no row, read as zero
    assert ("receiver", "filelog", "logs", "refused") not in found
