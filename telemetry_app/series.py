"""Reading throughput: series per signal over a time range, totals and the busiest gateways.

One query per series, grouped into slots of `step` seconds counted from `start` (series() says how): a
7-day chart of a 1,000-gateway fleet reads hour rows (24 per gateway, signal and day), never minute rows.
Minute rows are read where they cover the range (the organization's per-minute retention) and the step is
under an hour; before that, hour rows (each counted in the slot its hour starts in). Slots without rows are
zeros: a series always has (end − start) / step points.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import BigIntegerField, F, Func, Q, Sum

from gateways_app.models import Gateway
from telemetry_app import retention
from telemetry_app.models import Resolution
from telemetry_app.throughput import MEASURES, SIGNALS

ALL_SIGNALS = (*SIGNALS, "profiles")
HOUR = 3600


@dataclass
class Point:
    """One slot of one signal: the stored measures, and `dropped_total` (refused + processor drops)."""

    time: datetime
    received: int = 0
    refused: int = 0
    dropped: int = 0  # processors' incoming − outgoing (may be negative in a slot: a batch let out held items)
    sent: int = 0
    failed: int = 0

    @property
    def dropped_total(self) -> int:
        return self.refused + self.dropped

    def add(self, values: dict) -> None:
        for name in MEASURES:
            setattr(self, name, getattr(self, name) + (values.get(name) or 0))

    def as_dict(self) -> dict:
        return {**asdict(self), "dropped_total": self.dropped_total}


def reduction(received: int, sent: int) -> float | None:
    """Percent of the received items that were not sent (out ÷ in); None without input."""
    if received <= 0:
        return None
    return round(100 * (1 - sent / received), 1)


@dataclass
class Window:
    start: datetime  # inclusive, a whole minute
    end: datetime  # exclusive
    step: int  # seconds, a multiple of 60
    minutes_from: datetime | None  # minute rows are read from here on; hour rows before (None: hour rows only)

    @property
    def slots(self) -> int:
        return max(1, -(-int((self.end - self.start).total_seconds()) // self.step))

    def times(self) -> list:
        return [self.start + timedelta(seconds=self.step * index) for index in range(self.slots)]


def whole_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def whole_hour(moment: datetime) -> datetime:
    return whole_minute(moment).replace(minute=0)


def window(organization, start: datetime, end: datetime, step: int, *, now: datetime) -> Window:
    """The rows a range needs: minute rows from the first whole hour the org's per-minute retention keeps complete."""
    start = whole_minute(start)
    if step % HOUR == 0:
        return Window(start, end, step, None)
    minute_hours, _ = retention.settings_of(organization)
    kept_from = whole_hour(now - timedelta(hours=minute_hours)) + timedelta(hours=1)
    return Window(start, end, step, max(kept_from, start))


class Slot(Func):
    """floor((epoch seconds of the expression − origin) / step), on PostgreSQL and SQLite."""

    output_field = BigIntegerField()

    def __init__(self, expression, *, origin: int, step: int):
        super().__init__(expression)
        self.origin, self.step = origin, step

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "sqlite":
            text = f"((CAST(strftime('%%s', {sql}) AS INTEGER) - %s) / %s)"
        else:
            text = f"CAST(FLOOR((EXTRACT(EPOCH FROM {sql}) - %s) / %s) AS BIGINT)"
        return text, (*params, self.origin, self.step)


def rows_in(rows, win: Window):
    """The rows of the window: hour rows before `minutes_from` (all of them without it), minute rows after."""
    rows = rows.filter(bucket__lt=win.end)
    if win.minutes_from is None:
        return rows.filter(resolution=Resolution.HOUR, bucket__gte=whole_hour(win.start))
    minutes = Q(resolution=Resolution.MINUTE, bucket__gte=max(win.start, win.minutes_from))
    if win.minutes_from <= win.start:
        return rows.filter(minutes)  # minutes cover the whole range: an hour row would count its minutes twice
    # minutes_from is then a whole hour: the hour rows before it and the minute rows after never overlap.
    hours = Q(resolution=Resolution.HOUR, bucket__gte=whole_hour(win.start), bucket__lt=win.minutes_from)
    return rows.filter(hours | minutes)


def series(rows, win: Window, signals=SIGNALS, *, fleet=False) -> dict:
    """{signal: [Point per slot]} of the Throughput rows `rows` (already scoped to an org or a gateway): one query.

    Two ways to the same slots, chosen by what they cost (measured on 1,000 gateways, docs/benchmarks.md):
    - a fleet's rows (`fleet`), or a step equal to the stored buckets': the database adds up each stored bucket
      and Python places buckets in slots. Grouping on the stored column aggregates straight off the covering
      index; a computed slot cost a third more per row, and there are many rows per bucket;
    - one gateway's rows in coarser slots: the database computes the slot (Slot), so a day in 15-minute slots
      returns 96 rows per signal instead of 1,440 (per-row Python work cost more than the expression).
    """
    origin, step = win.start.timestamp(), win.step
    stored = HOUR if win.minutes_from is None else 60 if win.minutes_from <= win.start else None
    per_bucket = fleet or step == stored
    rows = rows_in(rows, win).filter(signal__in=signals)
    if per_bucket:
        rows = rows.values("bucket", "signal")
    else:
        rows = rows.annotate(slot=Slot(F("bucket"), origin=int(origin), step=step)).values("slot", "signal")
    grouped = rows.annotate(**{name: Sum(name) for name in MEASURES}).order_by()
    result = {signal: [Point(time) for time in win.times()] for signal in signals}
    last = win.slots - 1
    for row in grouped:
        slot = int((row["bucket"].timestamp() - origin) // step) if per_bucket else row["slot"]
        # An hour row that starts before `start` (the range's first, partial hour) counts in the first slot.
        result[row["signal"]][min(max(slot, 0), last)].add(row)
    return result


def totals(points, time=None) -> Point:
    total = Point(time or (points[0].time if points else None))
    for name in MEASURES:
        setattr(total, name, sum(getattr(point, name) for point in points))
    return total


def top_gateways(rows, win: Window, limit: int = 10) -> list:
    """[{gateway_id, gateway__name, received, …}] of the gateways that received the most items in the window.

    Two queries: the sums per gateway id straight off the covering index, then the names of the `limit` found
    (joining the gateways before grouping made PostgreSQL sort every row: 270 ms instead of 80 for a fleet's hour).
    """
    grouped = list(
        rows_in(rows, win)
        .values("gateway_id")
        .annotate(**{name: Sum(name) for name in MEASURES})
        .filter(received__gt=0)
        .order_by("-received", "gateway_id")[:limit]
    )
    names = dict(Gateway.objects.filter(pk__in=[row["gateway_id"] for row in grouped]).values_list("pk", "name"))
    for row in grouped:
        row["gateway__name"] = names.get(row["gateway_id"], "")
        row["dropped_total"] = row["refused"] + row["dropped"]
        row["reduction"] = reduction(row["received"], row["sent"])
    return grouped


def has_data(rows) -> bool:
    return rows.exists()
