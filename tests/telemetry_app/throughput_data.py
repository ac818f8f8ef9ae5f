"""Throughput rows written directly (bulk), for the read side's tests and bench/telemetry_pages.py."""

from datetime import timedelta

from telemetry_app.models import Resolution, Throughput
from telemetry_app.series import whole_hour, whole_minute


def minute_rows(gateway, now, *, minutes=60, signals=("logs", "traces"), received=100, sent=60, refused=1, failed=2):
    """One minute row per signal for each of the last `minutes` minutes (now's included); the processors
    drop what was received and not sent (dropped = received − sent), refused and failed come on top."""
    counts = {"received": received, "sent": sent, "refused": refused, "failed": failed}
    return _rows(gateway, Resolution.MINUTE, whole_minute(now), timedelta(minutes=1), minutes, signals, counts)


def hour_rows(gateway, now, *, hours=24, signals=("logs", "traces"), received=6000, sent=3600, refused=60, failed=120):
    """minute_rows() for the last `hours` hours."""
    counts = {"received": received, "sent": sent, "refused": refused, "failed": failed}
    return _rows(gateway, Resolution.HOUR, whole_hour(now), timedelta(hours=1), hours, signals, counts)


def _rows(gateway, resolution, end, step, count, signals, counts):
    return [
        Throughput(
            organization_id=gateway.organization_id,
            gateway=gateway,
            resolution=resolution,
            bucket=end - step * index,
            signal=signal,
            dropped=counts["received"] - counts["sent"],
            **counts,
        )
        for index in range(count)
        for signal in signals
    ]


def replay_captured(gateway, *, minutes=60, now=None, outage=(35, 45)):
    """An hour of reports in the real collector's shape (tests/telemetry_app/data/report_2.pb: filelog →
    memory_limiter → batch → otlphttp), one per minute, ingested by the code /v1/metrics runs (otlp + rollups).

    The captured metrics are kept as they are (names, attributes, kinds); their cumulative values are
    rewritten per minute: `rate(m)` log records read in minute m, a filter processor (the memory_limiter's
    incoming/outgoing series renamed `filter/debug`) passing 70 % on, and the exporter failing every batch
    during the `outage` minutes. Returns the totals it sent: {"received", "dropped", "sent", "failed"}.
    """
    from django.utils import timezone

    from telemetry_app import otlp, rollups
    from tests.telemetry_app.conftest import captured

    now = now or timezone.now()
    first = whole_minute(now) - timedelta(minutes=minutes - 1)
    start_ns = int((first - timedelta(minutes=1)).timestamp()) * 10**9
    received = passed = failed = sent = 0
    for minute in range(minutes):
        rate = 1200 + (minute * 37) % 500
        received += rate
        passed_now = rate * 7 // 10
        passed += passed_now
        if outage[0] <= minute < outage[1]:
            failed += passed_now
        else:
            sent += passed_now
        values = {
            "otelcol_receiver_accepted_log_records": received,
            "otelcol_processor_accepted_log_records": received,
            "otelcol_processor_incoming_items": received,
            "otelcol_processor_outgoing_items": passed,
            "otelcol_exporter_sent_log_records": sent,
            "otelcol_exporter_send_failed_log_records": failed,
        }
        at = first + timedelta(minutes=minute, seconds=30)
        request = captured("report_2.pb")
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in getattr(metric, metric.WhichOneof("data")).data_points:
                        point.time_unix_nano = int(at.timestamp()) * 10**9
                        if point.start_time_unix_nano:
                            point.start_time_unix_nano = start_ns
                        if metric.name in values:
                            point.as_int = values[metric.name]
                        if metric.name in ("otelcol_processor_incoming_items", "otelcol_processor_outgoing_items"):
                            for attribute in point.attributes:
                                if attribute.key == "processor":
                                    attribute.value.string_value = "filter/debug"
        points = otlp.points(otlp.decode(request.SerializeToString()))
        rollups.ingest(gateway, points, minute_retention_hours=48, now=at + timedelta(seconds=5))
    return {"received": received, "dropped": received - passed, "sent": sent, "failed": failed}
