"""Per-minute rollups from a gateway's OTLP metrics: deltas of cumulative counters, last/max of gauges.

One request of one gateway: lock its SeriesState row, compute each point's delta against the last
cumulative value of its series, add the deltas into per-minute buckets, then one read of the existing
rows of those minutes and one upsert (bulk_create with update_conflicts; PostgreSQL and SQLite both
have ON CONFLICT). Raw points are never stored.

Counter resets: a series whose start time changed (the collector restarted) or whose value went down
counts from zero, so its whole value is the delta. A series seen for the first time counts from zero
too (a new collector, or a new component, which means a new configuration and so a restarted
collector). A point not newer than the last one of its series (a retried request) adds nothing.
A counter that did not move in a minute has no row there (read as zero); gauges always have one.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from telemetry_app import health, health_status, throughput
from telemetry_app.models import Resolution, Rollup, SeriesState

# A point more than this far in the future, or older than the org's per-minute retention, cannot be placed.
FUTURE_SLACK = timedelta(minutes=5)
# Series not reported for this long are forgotten (a removed component): the state row stays small.
FORGET_SERIES_AFTER = timedelta(days=2)
# Bounds on what one gateway can make the portal keep: a collector reports a few dozen series; a report
# past these bounds has its extra points refused (partial_success), not the whole request.
MAX_SERIES = 2000
MAX_ROWS_PER_REQUEST = 5000
UPSERT_BATCH = 500  # rows per INSERT statement: 11 parameters each, far below every database's limit
KEY_FIELDS = ("bucket", "component_kind", "component", "signal", "measure")
UNIQUE_FIELDS = ["gateway", "resolution", *KEY_FIELDS]


@dataclass
class Outcome:
    points: int = 0  # points of the metrics we keep
    rejected: int = 0  # of those, refused (time out of range)
    rows: int = 0  # minute rows written
    reasons: set = field(default_factory=set)
    minutes: set = field(default_factory=set)  # the minutes of the points kept (health.py judges complete ones)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.reasons.add(reason)

    def message(self) -> str:
        return "; ".join(sorted(self.reasons))


@dataclass
class Cell:
    gauge: bool
    value: int = 0
    peak: int | None = None


def minute_of(time_ns: int) -> datetime:
    seconds = time_ns // 1_000_000_000
    return datetime.fromtimestamp(seconds - seconds % 60, tz=UTC)


def delta_of(point, state: dict) -> int | None:
    """The items a cumulative point adds since the last one of its series (None: nothing, a replay); updates state."""
    previous = state.get(point.series)
    entry = [point.start_ns, point.time_ns, point.value]
    if previous is None:
        state[point.series] = entry
        return point.value
    start, time_ns, value = previous
    if point.start_ns != start or point.value < value:  # a restarted collector: counts from zero
        state[point.series] = entry
        return point.value
    if point.time_ns <= time_ns:
        return None
    state[point.series] = entry
    return point.value - value


def accumulate(points, state: dict, *, now: datetime, oldest: datetime, outcome: Outcome) -> dict:
    """{row key: Cell} of the request's points; `state` ({series: [start, time, value]}) updated."""
    cells = {}
    newest = now + FUTURE_SLACK
    for point in points:
        outcome.points += 1
        bucket = minute_of(point.time_ns) if point.time_ns else None
        if bucket is None or bucket > newest or bucket < oldest:
            outcome.reject("data point time outside the kept range")
            continue
        outcome.minutes.add(bucket)
        key = (bucket, point.component_kind, point.component, point.signal, point.measure)
        cell = cells.get(key)
        if cell is None and len(cells) >= MAX_ROWS_PER_REQUEST:
            outcome.reject(f"more than {MAX_ROWS_PER_REQUEST} rollup rows in one request")
            continue
        if point.gauge:
            amount = point.value
        elif point.cumulative:
            if point.series not in state and len(state) >= MAX_SERIES:
                outcome.reject(f"more than {MAX_SERIES} series for one gateway")
                continue
            amount = delta_of(point, state)
            if amount is None:
                continue
        else:
            amount = point.value
        if cell is None:
            cell = cells[key] = Cell(gauge=point.gauge)
        if point.gauge:
            cell.value = amount  # the last point of a minute wins
            cell.peak = amount if cell.peak is None else max(cell.peak, amount)
        else:
            cell.value += amount
    return cells


def forget_old(state: dict, now: datetime) -> None:
    horizon = (now - FORGET_SERIES_AFTER).timestamp() * 1_000_000_000
    for series in [series for series, (_, time_ns, _) in state.items() if time_ns < horizon]:
        del state[series]


def ingest(gateway, points, *, minute_retention_hours: int, now=None) -> Outcome:
    """Write the per-minute rollups of `points` (otlp.Point) for `gateway` (a Gateway or a credentials.GatewayRef:
    its `pk` and `organization_id`); rows are the gateway's organization's."""
    now = now or timezone.now()
    outcome = Outcome()
    oldest = now - timedelta(hours=minute_retention_hours)
    with transaction.atomic():
        state_id, state, health_state = locked_state(gateway.pk)
        cells = accumulate(points, state, now=now, oldest=oldest, outcome=outcome)
        forget_old(state, now)
        # A counter that did not move writes no row: a missing minute reads as zero (most refused and
        # failed counters never move; this halves the rows of a healthy gateway).
        cells = {key: cell for key, cell in cells.items() if cell.gauge or cell.value}
        # Health from metrics (health.py): no query unless a problem opens, moves or resolves.
        changed = health.resume(health_state, now)
        health.observe(health_state, cells, outcome.minutes)
        changed |= health.evaluate(health_state, max(outcome.minutes, default=None))
        if changed:
            health_status.write(gateway.pk, health_state)
        SeriesState.objects.filter(pk=state_id).update(series=state, health=health_state, updated_at=now)
        if cells:
            outcome.rows = upsert(gateway, cells)
            throughput.record(gateway, cells)  # the pages' per-signal view of the same deltas
    return outcome


def locked_state(gateway_id) -> tuple[int, dict, dict]:
    """(id, series, health) of the gateway's SeriesState row, locked until the transaction ends (created once)."""
    rows = SeriesState.objects.select_for_update().filter(gateway_id=gateway_id).values_list("pk", "series", "health")
    found = rows.first()
    if found is None:
        SeriesState.objects.get_or_create(gateway_id=gateway_id)
        found = rows.first()
    return found


COLUMNS = ("organization", "gateway", "resolution", *KEY_FIELDS, "gauge", "value", "peak")


def upsert_sql(rows: int) -> str:
    """INSERT … ON CONFLICT that adds a counter's items to its minute's row, and keeps a gauge's last value and peak.

    Written out because the ORM's bulk_create(update_conflicts=True) can only overwrite a column, not add to it
    (which would cost a SELECT of the existing rows first). PostgreSQL and SQLite (3.24+) both run it.
    """
    table = Rollup._meta.db_table
    fields = [Rollup._meta.get_field(name) for name in COLUMNS]
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    conflict = ", ".join(connection.ops.quote_name(Rollup._meta.get_field(name).column) for name in UNIQUE_FIELDS)
    values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * rows)
    # Only the model's own table and column names are formatted in; every value is a parameter.
    return (
        f"INSERT INTO {table} ({names}) VALUES {values} ON CONFLICT ({conflict}) DO UPDATE SET "  # noqa: S608
        f"value = CASE WHEN excluded.gauge THEN excluded.value ELSE {table}.value + excluded.value END, "
        f"peak = CASE WHEN {table}.peak IS NULL OR excluded.peak > {table}.peak THEN excluded.peak "
        f"ELSE {table}.peak END, gauge = excluded.gauge"
    )


def upsert(gateway, cells: dict) -> int:
    """Add the cells into the gateway's minute rows: one statement (per UPSERT_BATCH rows); the rows written."""
    # Values as the database takes them: UUIDs as text on SQLite, a datetime in UTC; prepared once each.
    gateway_id = Rollup._meta.get_field("gateway").get_db_prep_save(gateway.pk, connection)
    org_id = Rollup._meta.get_field("organization").get_db_prep_save(gateway.organization_id, connection)
    bucket_field, buckets = Rollup._meta.get_field("bucket"), {}
    items = list(cells.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), UPSERT_BATCH):
            batch, params = items[start : start + UPSERT_BATCH], []
            for (bucket, *key), cell in batch:
                if bucket not in buckets:
                    buckets[bucket] = bucket_field.get_db_prep_save(bucket, connection)
                params += (org_id, gateway_id, Resolution.MINUTE.value, buckets[bucket], *key)
                params += (cell.gauge, cell.value, cell.peak)
            cursor.execute(upsert_sql(len(batch)), params)
    return len(items)
