"""Per-minute rollups from a gateway's OTLP metrics: deltas of cumulative counters, last/max of gauges.

The requests of a batch (group commit, batch.py; a batch of one for ingest()): lock their gateways'
SeriesState rows, compute each point's delta against the last cumulative value of its series, add the
deltas into per-minute buckets, then one upsert of all the rows (INSERT … ON CONFLICT DO UPDATE, which
PostgreSQL and SQLite both have) and one of the throughput rows. Raw points are never stored.

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

from gateways_app.models import Gateway
from telemetry_app import health, health_status, sqlrows, throughput
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
    gone: bool = False  # the gateway no longer exists: nothing written

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
    return ingest_many([(gateway, points, minute_retention_hours)], now=now)[0]


def ingest_many(items, now=None) -> list[Outcome]:
    """ingest() of several requests in one transaction (group commit, batch.py): [(gateway, points, minute
    retention hours)] -> their Outcomes, in order. Requests of one gateway are applied in the order given.

    One query locks every gateway's state row, one UPDATE writes them back, one INSERT … ON CONFLICT writes
    all the rollups (per UPSERT_BATCH rows) and one the throughput rows, whatever the number of requests.
    A gateway deleted meanwhile (its credential cached, credentials.py) writes nothing: Outcome.gone.
    """
    now = now or timezone.now()
    outcomes = [Outcome() for _ in items]
    with transaction.atomic():
        states = locked_states({gateway.pk for gateway, _, _ in items})
        merged = {}  # gateway pk -> (gateway, cells of all its requests)
        for (gateway, points, retention), outcome in zip(items, outcomes, strict=True):
            if gateway.pk not in states:
                outcome.gone = True
                continue
            _, state, health_state = states[gateway.pk]
            oldest = now - timedelta(hours=retention)
            cells = accumulate(points, state, now=now, oldest=oldest, outcome=outcome)
            # A counter that did not move writes no row: a missing minute reads as zero (most refused and
            # failed counters never move; this halves the rows of a healthy gateway).
            cells = {key: cell for key, cell in cells.items() if cell.gauge or cell.value}
            # Health from metrics (health.py): no query unless a problem opens, moves or resolves.
            changed = health.resume(health_state, now)
            health.observe(health_state, cells, outcome.minutes)
            changed |= health.evaluate(health_state, max(outcome.minutes, default=None))
            if changed:
                health_status.write(gateway.pk, health_state)
            outcome.rows = len(cells)
            merge(merged.setdefault(gateway.pk, (gateway, {}))[1], cells)
        for _, state, _ in states.values():
            forget_old(state, now)
        save_states(states.values(), now)
        written = [(gateway, cells) for gateway, cells in merged.values() if cells]
        if written:
            upsert_many(written)
            throughput.record_many(written)  # the pages' per-signal view of the same deltas
    return outcomes


def merge(into: dict, cells: dict) -> None:
    """Add a later request's cells of the same gateway: counters add up, a gauge keeps the later value and the peak
    (one INSERT … ON CONFLICT may not touch a row twice)."""
    for key, cell in cells.items():
        found = into.get(key)
        if found is None:
            into[key] = cell
        elif cell.gauge:
            found.value = cell.value
            found.peak = cell.peak if found.peak is None else max(found.peak, cell.peak or 0)
        else:
            found.value += cell.value


def locked_states(gateway_ids) -> dict:
    """{gateway id: (state id, series, health)} of the gateways' SeriesState rows, locked until the transaction
    ends (in gateway order, so that two processes' batches never wait for each other in a cycle), created once.
    A gateway that no longer exists is left out: its rows cannot be written."""
    ids = sorted(gateway_ids)
    rows = SeriesState.objects.select_for_update().filter(gateway_id__in=ids).order_by("gateway_id")
    states = {
        gateway_id: (pk, series, health)
        for gateway_id, pk, series, health in rows.values_list("gateway_id", "pk", "series", "health")
    }
    missing = [gateway_id for gateway_id in ids if gateway_id not in states]
    if missing:
        existing = existing_gateways(missing)
        if existing:
            SeriesState.objects.bulk_create(
                [SeriesState(gateway_id=gateway_id) for gateway_id in existing], ignore_conflicts=True
            )
            found = rows.filter(gateway_id__in=existing).values_list("gateway_id", "pk", "series", "health")
            states.update({gateway_id: (pk, series, health) for gateway_id, pk, series, health in found})
    return states


def existing_gateways(ids) -> list:
    """Those of `ids` whose gateway exists, kept from deletion until the transaction ends (PostgreSQL's FOR KEY
    SHARE: the gateway's own updates, e.g. its OpAMP status, do not wait for it)."""
    table = Gateway._meta.db_table
    with connection.cursor() as cursor:
        lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
        placeholders = ", ".join(["%s"] * len(ids))
        field = Gateway._meta.pk
        # Only the model's own table name is formatted in; every value is a parameter.
        cursor.execute(
            f"SELECT id FROM {table} WHERE id IN ({placeholders}) ORDER BY id{lock}",  # noqa: S608
            [field.get_db_prep_value(gateway_id, connection) for gateway_id in ids],
        )
        return [field.to_python(row[0]) for row in cursor.fetchall()]


def save_states(states, now) -> None:
    """Write back the locked states: one UPDATE … FROM json_array_elements(…) on PostgreSQL, one UPDATE per row
    elsewhere."""
    states = list(states)
    if not states:
        return
    if connection.vendor != "postgresql":
        for pk, series, health_state in states:
            SeriesState.objects.filter(pk=pk).update(series=series, health=health_state, updated_at=now)
        return
    table = SeriesState._meta.db_table
    # Only the model's own table name is formatted in; the states are one parameter (sqlrows.py).
    sqlrows.execute(
        f"UPDATE {table} AS s SET series = (r->1)::jsonb, health = (r->2)::jsonb, updated_at = %s "  # noqa: S608
        "FROM json_array_elements(%s::json) AS r WHERE s.id = (r->>0)::bigint",
        [now, sqlrows.dumps(states)],
    )


COLUMNS = ("organization", "gateway", "resolution", *KEY_FIELDS, "gauge", "value", "peak")


def upsert_sql(rows_sql: str) -> str:
    """INSERT … ON CONFLICT that adds a counter's items to its minute's row, and keeps a gauge's last value and peak;
    the rows from `rows_sql` (sqlrows.source()).

    Written out because the ORM's bulk_create(update_conflicts=True) can only overwrite a column, not add to it
    (which would cost a SELECT of the existing rows first). PostgreSQL and SQLite (3.24+) both run it.
    """
    table = Rollup._meta.db_table
    names = sqlrows.columns_sql(Rollup, COLUMNS)
    conflict = sqlrows.columns_sql(Rollup, UNIQUE_FIELDS)
    # Only the model's own table and column names are formatted in; every value is a parameter.
    return (
        f"INSERT INTO {table} ({names}) {rows_sql} ON CONFLICT ({conflict}) DO UPDATE SET "  # noqa: S608
        f"value = CASE WHEN excluded.gauge THEN excluded.value ELSE {table}.value + excluded.value END, "
        f"peak = CASE WHEN {table}.peak IS NULL OR excluded.peak > {table}.peak THEN excluded.peak "
        f"ELSE {table}.peak END, gauge = excluded.gauge"
    )


def upsert(gateway, cells: dict) -> int:
    """Add the cells into the gateway's minute rows; the rows written."""
    return upsert_many([(gateway, cells)])


def upsert_many(written) -> int:
    """Add each gateway's cells into its minute rows ([(gateway, cells)], each gateway once): one statement per
    UPSERT_BATCH rows, whatever the number of gateways; the rows written."""
    # Values as the database takes them: UUIDs as text on SQLite, a datetime in UTC; prepared once each.
    gateway_field, org_field = Rollup._meta.get_field("gateway"), Rollup._meta.get_field("organization")
    bucket_field, buckets = Rollup._meta.get_field("bucket"), {}
    rows = []
    for gateway, cells in written:
        gateway_id = gateway_field.get_db_prep_save(gateway.pk, connection)
        org_id = org_field.get_db_prep_save(gateway.organization_id, connection)
        for (bucket, *key), cell in cells.items():
            if bucket not in buckets:
                buckets[bucket] = bucket_field.get_db_prep_save(bucket, connection)
            rows.append(
                (org_id, gateway_id, Resolution.MINUTE.value, buckets[bucket], *key, cell.gauge, cell.value, cell.peak)
            )
    for start in range(0, len(rows), UPSERT_BATCH):
        rows_sql, params = sqlrows.source(Rollup, COLUMNS, rows[start : start + UPSERT_BATCH])
        sqlrows.execute(upsert_sql(rows_sql), params)
    return len(rows)
