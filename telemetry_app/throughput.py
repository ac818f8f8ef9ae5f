"""Throughput rows: a request's per-component deltas summed per signal into in/refused/dropped/sent/failed.

Written in the same transaction as the rollups (rollups.ingest calls record()), for the minute and for its
hour at once, so reading a fleet's day is 24 rows per gateway and signal (series.py), not thousands of
per-component minute rows: the pages' and the API's cost does not grow with the collectors' pipelines.
The terms (docs/telemetry.md, "Throughput"):

- received: receivers' accepted items (what entered the pipelines);
- refused: receivers' refused items (dropped at the door, e.g. by memory_limiter's back-pressure);
- dropped: processors' incoming − outgoing items (filtered, sampled; older collectors' `dropped` counter too);
- sent: exporters' sent items; failed: exporters' send_failed items.
"""

from collections import defaultdict

from django.db import connection

from telemetry_app import sqlrows
from telemetry_app.models import Resolution, Throughput

MEASURES = ("received", "refused", "dropped", "sent", "failed")
# (component kind, rollup measure) → (throughput measure, sign)
TERMS = {
    ("receiver", "accepted"): ("received", 1),
    ("receiver", "refused"): ("refused", 1),
    ("processor", "incoming"): ("dropped", 1),
    ("processor", "outgoing"): ("dropped", -1),
    ("processor", "dropped"): ("dropped", 1),
    ("exporter", "sent"): ("sent", 1),
    ("exporter", "send_failed"): ("failed", 1),
}
SIGNALS = ("logs", "metrics", "traces")  # the pages' signals; profiles are kept too when a collector sends them
COLUMNS = ("organization", "gateway", "resolution", "bucket", "signal", *MEASURES)
UPSERT_BATCH = 500  # rows per statement: 10 parameters each, below every database's parameter limit


def cells_of(rollup_cells: dict) -> dict:
    """{(resolution, bucket, signal): {measure: items}} of rollup cells {(bucket, kind, component, signal, measure):
    Cell}: each minute's sums, and the same added into its hour."""
    sums = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for (bucket, kind, _component, signal, measure), cell in rollup_cells.items():
        term = TERMS.get((kind, measure))
        if term is None or cell.gauge or not signal or not cell.value:
            continue
        name, sign = term
        hour = bucket.replace(minute=0, second=0, microsecond=0)
        sums[(Resolution.MINUTE.value, bucket, signal)][name] += sign * cell.value
        sums[(Resolution.HOUR.value, hour, signal)][name] += sign * cell.value
    return sums


def upsert_sql(rows_sql: str) -> str:
    """INSERT … ON CONFLICT that adds to the bucket's existing row (PostgreSQL and SQLite 3.24+); the rows from
    `rows_sql` (sqlrows.source())."""
    table = Throughput._meta.db_table
    names = sqlrows.columns_sql(Throughput, COLUMNS)
    conflict = sqlrows.columns_sql(Throughput, ("gateway", "resolution", "bucket", "signal"))
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in MEASURES)
    # Only the model's own table and column names are formatted in; every value is a parameter.
    return f"INSERT INTO {table} ({names}) {rows_sql} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"  # noqa: S608


def record(gateway, rollup_cells: dict) -> int:
    """Add the request's deltas to the gateway's minute and hour throughput rows (one statement); the rows written."""
    return record_many([(gateway, rollup_cells)])


def record_many(written) -> int:
    """record() of several gateways ([(gateway, rollup cells)], each gateway once) in one statement per
    UPSERT_BATCH rows (the group commit of rollups.ingest_many); the rows written."""
    gateway_field, org_field = Throughput._meta.get_field("gateway"), Throughput._meta.get_field("organization")
    bucket_field = Throughput._meta.get_field("bucket")
    rows = []
    for gateway, rollup_cells in written:
        sums = cells_of(rollup_cells)
        if not sums:
            continue
        gateway_id = gateway_field.get_db_prep_save(gateway.pk, connection)
        org_id = org_field.get_db_prep_save(gateway.organization_id, connection)
        for (resolution, bucket, signal), measures in sums.items():
            bucket_value = bucket_field.get_db_prep_save(bucket, connection)
            rows.append((org_id, gateway_id, resolution, bucket_value, signal, *(measures[name] for name in MEASURES)))
    for start in range(0, len(rows), UPSERT_BATCH):
        rows_sql, params = sqlrows.source(Throughput, COLUMNS, rows[start : start + UPSERT_BATCH])
        sqlrows.execute(upsert_sql(rows_sql), params)
    return len(rows)


def expire(organization, *, minutes_before, hours_before) -> int:
    """Delete the org's minute rows before `minutes_before` and hour rows before `hours_before` (retention.py).

    Hour rows were written along with the minutes, so nothing is summed here: the hours stay as they are.
    """
    rows = Throughput.objects.filter(organization=organization)
    minutes, _ = rows.filter(resolution=Resolution.MINUTE, bucket__lt=minutes_before).delete()
    hours, _ = rows.filter(resolution=Resolution.HOUR, bucket__lt=hours_before).delete()
    return minutes + hours
