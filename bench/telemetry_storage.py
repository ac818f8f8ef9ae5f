"""Storage of gateway telemetry rollups per gateway per day, measured on the configured database.

    DATABASE_URL=postgres://… .venv/bin/python bench/telemetry_storage.py [--gateways 1]

Creates an organization "telemetry-storage-bench" (deleted first if it exists) with gateways that each push one
report every 30 s for a day (2,880 requests), through telemetry_app.rollups.ingest, the code the endpoint runs.
A report is what a collector with three pipelines (logs, metrics, traces: one receiver, memory_limiter, one
exporter) sends about itself: the metric names and attributes of tests/telemetry_app/data/report_2.pb repeated
per signal, 24 points of which 3 × 7 move or are gauges. Prints rows and bytes (table + indexes, PostgreSQL's
pg_total_relation_size of the rollup table, measured on this data alone) per gateway per day, before and after
the day's minutes are summed into hours, and the time of one ingest. docs/telemetry.md quotes it.
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from core_app.models import Organization  # noqa: E402
from core_app.services import create_organization  # noqa: E402
from gateways_app.models import Gateway  # noqa: E402
from telemetry_app import otlp, retention, rollups  # noqa: E402
from telemetry_app.models import Rollup  # noqa: E402

SIGNALS = {"logs": "log_records", "metrics": "metric_points", "traces": "spans"}
S = 10**9


def report(start_ns, time_ns, items):
    """The points of one report after `items` items per signal went through."""
    points = []
    for signal, suffix in SIGNALS.items():

        def point(name, kind, component, measure, value, gauge=False, signal=signal):
            series = f"{name}|{kind}={component},signal={signal}"
            return otlp.Point(series, kind, component, signal, measure, start_ns, time_ns, value, gauge, not gauge)

        points += [
            point(f"otelcol_receiver_accepted_{suffix}", "receiver", "otlp", "accepted", items),
            point(f"otelcol_receiver_refused_{suffix}", "receiver", "otlp", "refused", 0),
            point(f"otelcol_receiver_failed_{suffix}", "receiver", "otlp", "failed", 0),
            point(f"otelcol_processor_accepted_{suffix}", "processor", "memory_limiter", "accepted", items),
            point("otelcol_processor_incoming_items", "processor", "memory_limiter", "incoming", items),
            point("otelcol_processor_outgoing_items", "processor", "memory_limiter", "outgoing", items),
            point(f"otelcol_exporter_sent_{suffix}", "exporter", "otlphttp", "sent", items),
            point(f"otelcol_exporter_send_failed_{suffix}", "exporter", "otlphttp", "send_failed", 0),
            point("otelcol_exporter_queue_size", "exporter", "otlphttp", "queue_size", items % 7, gauge=True),
            point("otelcol_exporter_queue_capacity", "exporter", "otlphttp", "queue_capacity", 1000, gauge=True),
        ]
    return points


def table_bytes():
    with connection.cursor() as cursor:
        cursor.execute("VACUUM FULL telemetry_app_rollup")  # the live rows only
        cursor.execute("SELECT pg_total_relation_size('telemetry_app_rollup')")
        return cursor.fetchone()[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateways", type=int, default=1)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("measure on PostgreSQL: set DATABASE_URL")
    Organization.objects.filter(slug="telemetry-storage-bench").delete()
    if Rollup.objects.exists():
        sys.exit("the rollup table holds other rows: measure on a database of its own")
    org = create_organization("telemetry-storage-bench")
    gateways = [Gateway.objects.create(organization=org, name=f"gw-{n}") for n in range(args.gateways)]
    empty = table_bytes()
    day = datetime(2026, 12, 1, tzinfo=UTC)
    now = day + timedelta(days=1)
    start_ns = int(day.timestamp()) * S
    timings = []
    for step in range(2880):
        time_ns = start_ns + (step + 1) * 30 * S
        for gateway in gateways:
            began = time.perf_counter()
            rollups.ingest(gateway, report(start_ns, time_ns, 60 * (step + 1)), minute_retention_hours=48, now=now)
            timings.append(time.perf_counter() - began)
    rows, size = Rollup.objects.filter(organization=org).count(), table_bytes() - empty
    timings.sort()
    print(f"points per report: {len(report(start_ns, start_ns, 1))}")
    print(f"minute rows per gateway per day: {rows / len(gateways):,.0f}")
    print(f"bytes per gateway per day (minute rows, table + indexes): {size / len(gateways):,.0f}")
    print(
        f"ingest of one report: median {timings[len(timings) // 2] * 1000:.2f} ms, "
        f"p99 {timings[int(len(timings) * 0.99)] * 1000:.2f} ms"
    )
    retention.downsample(org, now)
    hour_rows = Rollup.objects.filter(organization=org, resolution="hour").count()
    print(
        f"hour rows per gateway per day: {hour_rows / len(gateways):,.0f}, "
        f"bytes: {(table_bytes() - empty) / len(gateways):,.0f}"
    )
    Organization.objects.filter(pk=org.pk).delete()


if __name__ == "__main__":
    main()
