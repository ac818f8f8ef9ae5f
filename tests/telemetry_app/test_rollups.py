"""Per-minute rollups: deltas across requests, counter resets, replays, minute buckets, gauges, temporality."""

from datetime import UTC, datetime, timedelta

import pytest

from telemetry_app import otlp, rollups
from telemetry_app.models import Rollup, SeriesState
from tests.telemetry_app.conftest import DELTA, accepted_logs, counter, gauge, request_of, totals

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC)
S = 10**9  # nanoseconds in a second
T0 = int(datetime(2026, 12, 5, 11, 50, tzinfo=UTC).timestamp()) * S  # the collector's start
ACCEPTED = ("receiver", "filelog", "logs", "accepted")


def ingest(gateway, request, now=NOW):
    return rollups.ingest(gateway, otlp.points(request), minute_retention_hours=48, now=now)


def at(minute, second=0):
    """Nanoseconds of 11:<minute>:<second> on NOW's day."""
    return int(datetime(2026, 12, 5, 11, minute, second, tzinfo=UTC).timestamp()) * S


def per_minute(gateway):
    return {
        row.bucket.strftime("%H:%M"): row.value
        for row in Rollup.objects.filter(gateway=gateway, measure="accepted").order_by("bucket")
    }


def test_deltas_of_a_cumulative_counter_across_requests(gateway):
    ingest(gateway, accepted_logs(100, start_ns=T0, time_ns=at(51, 10)))
    ingest(gateway, accepted_logs(130, start_ns=T0, time_ns=at(51, 40)))
    ingest(gateway, accepted_logs(200, start_ns=T0, time_ns=at(52, 10)))
    assert per_minute(gateway) == {"11:51": 130, "11:52": 70}
    assert totals(gateway) == {ACCEPTED: 200}


def test_a_lower_value_is_a_reset_and_counts_from_zero(gateway):
    ingest(gateway, accepted_logs(100, start_ns=T0, time_ns=at(51, 10)))
    ingest(gateway, accepted_logs(15, start_ns=T0, time_ns=at(52, 10)))  # restarted, same start time reported
    ingest(gateway, accepted_logs(25, start_ns=T0, time_ns=at(52, 40)))
    assert per_minute(gateway) == {"11:51": 100, "11:52": 25}


def test_a_new_start_time_is_a_reset_even_with_a_higher_value(gateway):
    ingest(gateway, accepted_logs(100, start_ns=T0, time_ns=at(51, 10)))
    ingest(gateway, accepted_logs(150, start_ns=at(52), time_ns=at(52, 30)))  # a new process: 150 since its start
    assert per_minute(gateway) == {"11:51": 100, "11:52": 150}


def test_a_replayed_or_older_point_adds_nothing(gateway):
    report = accepted_logs(100, start_ns=T0, time_ns=at(51, 10))
    ingest(gateway, report)
    ingest(gateway, report)  # the exporter retried after a lost response
    ingest(gateway, accepted_logs(100, start_ns=T0, time_ns=at(51, 5)))
    assert totals(gateway) == {ACCEPTED: 100}


def test_points_fall_in_the_minute_of_their_time(gateway):
    request = request_of(
        counter("otelcol_exporter_sent_log_records", 10, start_ns=T0, time_ns=at(53, 59), exporter="otlphttp"),
        counter("otelcol_exporter_sent_spans", 3, start_ns=T0, time_ns=at(54, 0), exporter="otlphttp"),
    )
    ingest(gateway, request)
    rows = {(row.bucket.strftime("%H:%M:%S"), row.signal, row.value) for row in Rollup.objects.all()}
    assert rows == {("11:53:00", "logs", 10), ("11:54:00", "traces", 3)}


def test_series_of_one_component_add_up_and_components_stay_apart(gateway):
    request = request_of(
        counter("otelcol_receiver_accepted_spans", 4, start_ns=T0, time_ns=at(51), receiver="otlp", transport="grpc"),
        counter("otelcol_receiver_accepted_spans", 6, start_ns=T0, time_ns=at(51), receiver="otlp", transport="http"),
        counter("otelcol_receiver_accepted_spans", 1, start_ns=T0, time_ns=at(51), receiver="otlp/2", transport="http"),
    )
    ingest(gateway, request)
    assert totals(gateway) == {
        ("receiver", "otlp", "traces", "accepted"): 10,
        ("receiver", "otlp/2", "traces", "accepted"): 1,
    }


def test_processor_items_take_their_signal_from_the_attribute(gateway):
    request = request_of(
        counter(
            "otelcol_processor_incoming_items", 9, start_ns=T0, time_ns=at(51), processor="filter", otel__signal="logs"
        ),
        counter(
            "otelcol_processor_outgoing_items", 4, start_ns=T0, time_ns=at(51), processor="filter", otel__signal="logs"
        ),
    )
    ingest(gateway, request)
    assert totals(gateway) == {
        ("processor", "filter", "logs", "incoming"): 9,
        ("processor", "filter", "logs", "outgoing"): 4,
    }


def test_a_queue_size_gauge_keeps_the_last_value_and_the_peak_of_the_minute(gateway):
    for second, size in ((5, 10), (20, 80), (50, 30)):
        ingest(
            gateway, request_of(gauge("otelcol_exporter_queue_size", size, time_ns=at(51, second), exporter="otlphttp"))
        )
    row = Rollup.objects.get(measure="queue_size")
    assert (row.gauge, row.value, row.peak, row.signal) == (True, 30, 80, "")


def test_delta_temporality_is_added_as_sent(gateway):
    for time_ns in (at(51, 0), at(51, 30)):
        metric = counter(
            "otelcol_exporter_send_failed_log_records",
            5,
            start_ns=time_ns - S,
            time_ns=time_ns,
            temporality=DELTA,
            exporter="otlphttp",
        )
        ingest(gateway, request_of(metric))
    assert totals(gateway) == {("exporter", "otlphttp", "logs", "send_failed"): 10}


def test_a_total_suffix_is_read_and_other_metrics_are_ignored(gateway):
    request = request_of(
        counter("otelcol_exporter_sent_metric_points_total", 12, start_ns=T0, time_ns=at(51), exporter="otlp"),
        counter("otelcol_process_cpu_seconds", 3, start_ns=T0, time_ns=at(51)),
        counter("http.client.request.body.size", 3, start_ns=T0, time_ns=at(51)),
    )
    outcome = ingest(gateway, request)
    assert totals(gateway) == {("exporter", "otlp", "metrics", "sent"): 12}
    assert (outcome.points, outcome.rejected, outcome.rows) == (1, 0, 1)


def test_points_from_the_future_or_past_the_retention_are_rejected(gateway):
    request = request_of(
        counter(
            "otelcol_exporter_sent_spans",
            1,
            start_ns=T0,
            time_ns=int((NOW + timedelta(hours=1)).timestamp()) * S,
            exporter="a",
        ),
        counter(
            "otelcol_exporter_sent_spans",
            1,
            start_ns=T0,
            time_ns=int((NOW - timedelta(days=3)).timestamp()) * S,
            exporter="b",
        ),
        counter("otelcol_exporter_sent_spans", 1, start_ns=T0, time_ns=0, exporter="c"),
    )
    outcome = ingest(gateway, request)
    assert (outcome.points, outcome.rejected) == (3, 3)
    assert not Rollup.objects.exists()


def test_series_not_reported_for_days_are_forgotten(gateway):
    ingest(gateway, accepted_logs(100, start_ns=T0, time_ns=at(51)))
    later = NOW + timedelta(days=3)
    stamp = int(later.timestamp()) * S
    ingest(gateway, accepted_logs(5, start_ns=T0, time_ns=stamp, receiver="other"), now=later)
    assert list(SeriesState.objects.get(gateway=gateway).series) == [
        "otelcol_receiver_accepted_log_records|receiver=other,transport="
    ]


def test_a_counter_that_did_not_move_writes_no_row(gateway):
    for time_ns in (at(51, 0), at(52, 0)):
        request = request_of(
            counter("otelcol_exporter_send_failed_spans", 0, start_ns=T0, time_ns=time_ns, exporter="otlp"),
            counter("otelcol_exporter_sent_spans", 7, start_ns=T0, time_ns=time_ns, exporter="otlp"),
            gauge("otelcol_exporter_queue_size", 0, time_ns=time_ns, exporter="otlp", data_type="traces"),
        )
        ingest(gateway, request)
    rows = {(row.bucket.strftime("%H:%M"), row.measure, row.value) for row in Rollup.objects.all()}
    assert rows == {("11:51", "sent", 7), ("11:51", "queue_size", 0), ("11:52", "queue_size", 0)}


def sent_by(count, time_ns):
    return request_of(
        *(
            counter("otelcol_exporter_sent_spans", 1, start_ns=T0, time_ns=time_ns, exporter=f"otlp/{n}")
            for n in range(count)
        )
    )


def test_series_past_the_bound_are_rejected_not_the_request(gateway, monkeypatch):
    monkeypatch.setattr(rollups, "MAX_SERIES", 3)
    outcome = ingest(gateway, sent_by(5, at(51)))
    assert (outcome.points, outcome.rejected, outcome.rows) == (5, 2, 3)
    assert "more than 3 series" in outcome.message()
    assert len(SeriesState.objects.get(gateway=gateway).series) == 3


def test_rows_past_the_bound_of_one_request_are_rejected(gateway, monkeypatch):
    monkeypatch.setattr(rollups, "MAX_ROWS_PER_REQUEST", 4)
    outcome = ingest(gateway, sent_by(6, at(51)))
    assert (outcome.rejected, outcome.rows, Rollup.objects.count()) == (2, 4, 4)


def test_many_rows_are_written_in_batches(gateway, monkeypatch):
    monkeypatch.setattr(rollups, "UPSERT_BATCH", 2)
    ingest(gateway, sent_by(5, at(51)))
    ingest(gateway, sent_by(5, at(52)))
    assert Rollup.objects.count() == 5 and set(Rollup.objects.values_list("value", flat=True)) == {1}
