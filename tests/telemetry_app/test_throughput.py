"""Throughput rows: what a request's deltas add per gateway, signal and minute (and hour), and their retention."""

import gzip
from datetime import UTC, datetime, timedelta

import pytest

from core_app.models import OrgSettings
from telemetry_app import otlp, retention, rollups
from telemetry_app.models import Resolution, Throughput
from tests.telemetry_app.conftest import captured, counter, now_ns, post, request_of

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC)
S = 10**9
T0 = int(datetime(2026, 12, 5, 11, 0, tzinfo=UTC).timestamp()) * S


def at(minute, second=0, hour=11):
    return int(datetime(2026, 12, 5, hour, minute, second, tzinfo=UTC).timestamp()) * S


def pipeline(time_ns, *, accepted, refused, incoming, outgoing, sent, failed, signal="logs"):
    """A report of receiver → filter processor → exporter, cumulative since T0."""
    items = {"logs": "log_records", "traces": "spans", "metrics": "metric_points"}[signal]
    common = {"start_ns": T0, "time_ns": time_ns}
    return request_of(
        counter(f"otelcol_receiver_accepted_{items}", accepted, receiver="otlp", **common),
        counter(f"otelcol_receiver_refused_{items}", refused, receiver="otlp", **common),
        counter("otelcol_processor_incoming_items", incoming, processor="filter", otel__signal=signal, **common),
        counter("otelcol_processor_outgoing_items", outgoing, processor="filter", otel__signal=signal, **common),
        counter(f"otelcol_exporter_sent_{items}", sent, exporter="otlphttp", **common),
        counter(f"otelcol_exporter_send_failed_{items}", failed, exporter="otlphttp", **common),
    )


def ingest(gateway, request, now=NOW):
    return rollups.ingest(gateway, otlp.points(request), minute_retention_hours=48, now=now)


def rows(gateway, resolution):
    found = Throughput.objects.filter(gateway=gateway, resolution=resolution).order_by("bucket", "signal")
    return {
        (row.bucket.strftime("%H:%M"), row.signal): (row.received, row.refused, row.dropped, row.sent, row.failed)
        for row in found
    }


def test_deltas_become_in_refused_dropped_sent_failed_per_minute_and_hour(gateway):
    ingest(gateway, pipeline(at(58, 10), accepted=100, refused=3, incoming=100, outgoing=60, sent=50, failed=10))
    ingest(gateway, pipeline(at(59, 10), accepted=250, refused=3, incoming=250, outgoing=150, sent=150, failed=10))
    ingest(
        gateway, pipeline(at(0, 10, hour=12), accepted=260, refused=5, incoming=260, outgoing=156, sent=156, failed=10)
    )
    assert rows(gateway, Resolution.MINUTE) == {
        ("11:58", "logs"): (100, 3, 40, 50, 10),
        ("11:59", "logs"): (150, 0, 60, 100, 0),
        ("12:00", "logs"): (10, 2, 4, 6, 0),
    }
    assert rows(gateway, Resolution.HOUR) == {
        ("11:00", "logs"): (250, 3, 100, 150, 10),
        ("12:00", "logs"): (10, 2, 4, 6, 0),
    }
    assert Throughput.objects.filter(gateway=gateway).exclude(organization=gateway.organization).count() == 0


def test_signals_are_kept_apart(gateway):
    ingest(gateway, pipeline(at(58), accepted=7, refused=0, incoming=7, outgoing=7, sent=7, failed=0, signal="traces"))
    ingest(gateway, pipeline(at(58), accepted=9, refused=0, incoming=9, outgoing=4, sent=4, failed=0, signal="metrics"))
    assert rows(gateway, Resolution.MINUTE) == {
        ("11:58", "metrics"): (9, 0, 5, 4, 0),
        ("11:58", "traces"): (7, 0, 0, 7, 0),
    }


@pytest.mark.django_db(transaction=True)  # the view works in a thread of its own: committed rows only
def test_real_collector_reports_give_the_lines_read_and_sent(client, gateway):
    """The captured reports of the real collector (filelog → memory_limiter → batch → otlphttp), through /v1/metrics."""
    from telemetry_app import credentials

    authorization = credentials.telemetry_credential_for(gateway)
    first = captured("report_1.pb")
    base = min(p.time_unix_nano for m in first.resource_metrics[0].scope_metrics[0].metrics for p in m.sum.data_points)
    now = now_ns() - 60 * S
    for name in ("report_1.pb", "report_2.pb", "report_restart.pb"):
        body = gzip.compress(captured(name, shift_to_ns=now, base_ns=base).SerializeToString())
        assert post(client, authorization, body, Content_Encoding="gzip").status_code == 200
    minutes = Throughput.objects.filter(gateway=gateway, resolution=Resolution.MINUTE)
    hours = Throughput.objects.filter(gateway=gateway, resolution=Resolution.HOUR)
    for found in (minutes, hours):
        assert sum(row.received for row in found) == 160  # 50, 80 in all, then a restarted collector's 80
        assert sum(row.sent for row in found) == 160
        assert sum(row.dropped + row.refused + row.failed for row in found) == 0
        assert {row.signal for row in found} == {"logs"}


def test_retention_deletes_old_minutes_and_hours_without_touching_recent_ones(gateway, org):
    OrgSettings.objects.filter(organization=org).update(
        telemetry_minute_retention_hours=2, telemetry_hour_retention_days=3
    )
    old = NOW - timedelta(days=5)
    for bucket, resolution in [
        (NOW - timedelta(hours=4), Resolution.MINUTE),
        (NOW - timedelta(minutes=30), Resolution.MINUTE),
        (old, Resolution.HOUR),
        (NOW - timedelta(hours=4), Resolution.HOUR),
    ]:
        Throughput.objects.create(
            organization=org, gateway=gateway, resolution=resolution, bucket=bucket, signal="logs", received=1
        )
    retention.apply(org, NOW)
    kept = set(Throughput.objects.values_list("resolution", "bucket"))
    assert kept == {(Resolution.MINUTE, NOW - timedelta(minutes=30)), (Resolution.HOUR, NOW - timedelta(hours=4))}
