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


def upsert_sql(rows: int) -> str:
    """INSERT … ON CONFLICT that adds to the bucket's existing row (PostgreSQL and SQLite 3.24+)."""
    table = Throughput._meta.db_table
    quote = connection.ops.quote_name
    names = ", ".join(quote(Throughput._meta.get_field(name).column) for name in COLUMNS)
    conflict = ", ".join(
        quote(Throughput._meta.get_field(name).column) for name in ("gateway", "resolution", "bucket", "signal")
    )
    values = ", ".join(["(" + ", ".join(["%s"] * len(COLUMNS)) + ")"] * rows)
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in MEASURES)
    # Only the model's own table and column names are formatted in; every value is a parameter.
    return f"INSERT INTO {table} ({names}) VALUES {values} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"  # noqa: S608


def record(gateway, rollup_cells: dict) -> int:
    """Add the request's deltas to the gateway's minute and hour throughput rows (one statement); the rows written."""
    sums = cells_of(rollup_cells)
    if not sums:
        return 0
    gateway_id = Throughput._meta.get_field("gateway").get_db_prep_save(gateway.pk, connection)
    org_id = Throughput._meta.get_field("organization").get_db_prep_save(gateway.organization_id, connection)
    bucket_field = Throughput._meta.get_field("bucket")
    items = list(sums.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), UPSERT_BATCH):
            batch, params = items[start : start + UPSERT_BATCH], []
            for (resolution, bucket, signal), measures in batch:
                params += (org_id, gateway_id, resolution, bucket_field.get_db_prep_save(bucket, connection), signal)
                params += [measures[name] for name in MEASURES]
            cursor.execute(upsert_sql(len(batch)), params)
    return len(items)


def expire(organization, *, minutes_before, hours_before) -> int:
    """Delete the org's minute rows before `minutes_before` and hour rows before `hours_before` (retention.py).

    Hour rows were written along with the minutes, so nothing is summed here: the hours stay as they are.
    """
    rows = Throughput.objects.filter(organization=organization)
    minutes, _ = rows.filter(resolution=Resolution.MINUTE, bucket__lt=minutes_before).delete()
    hours, _ = rows.filter(resolution=Resolution.HOUR, bucket__lt=hours_before).delete()
    return minutes + hours
