"""Before vs after: what a new configuration did to the items gateways send, from their throughput rows.

The method (docs/telemetry.md, "Before vs after"), for each gateway a configuration was applied to:

- **before**: the hour before the new configuration was sent (whole minutes; the minute it was sent in is left
  out, it mixes both configurations);
- **after**: the hour after it was applied, starting SETTLE after the minute it was applied in (the collector
  restarts, its pipelines fill again), clipped to now (the hour may not be over yet) and to when a rollback
  sent the gateway its previous configuration back;
- in each window, per signal: items in (`received`: receivers' accepted items) and items out (`sent`: exporters'
  sent items) of the Throughput rows (throughput.py), per hour of data the gateway reported in that window
  (the minutes in which its busiest signal moved items), so a gateway that started reporting half-way through a
  window is compared on the half it has;
- once the org's per-minute rows of a window are gone (retention.py), the hour rows of the whole hour before the
  hour it was sent in, and of the first whole hour from SETTLE after it was applied, stand in for that window
  (minute rows are used wherever a gateway has any in the window);
- a gateway counts for a signal only with items in, in both windows; the others are named as excluded;
- per signal, the gateways' hourly rates are added up: out per hour before and after, and the out ÷ in ratio
  before and after. The **reduction** is the change of that ratio, so more or less traffic coming in is not
  mistaken for a saving; out per hour is shown too.
- **items saved per hour** = ratio before × in per hour after − out per hour after (what the after traffic would
  have sent under the old configuration, minus what it sent); the **estimated monthly saving** is that × 730 h ×
  the org's price per million items of the signal (OrgSettings), only when the org set one.

Callers pass Placements (deployments_app knows where and when a version was applied; this app does not import
it). One query per GATEWAYS_PER_QUERY gateways (and one for the org's prices).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils import timezone

from core_app.services import get_org_settings
from telemetry_app.models import Resolution, Throughput

WINDOW = timedelta(hours=1)
SETTLE = timedelta(minutes=2)
HOURS_PER_MONTH = 730
MINUTE = timedelta(minutes=1)
SIGNALS = ("logs", "metrics", "traces", "profiles")
ITEMS = {"logs": "log records", "metrics": "metric points", "traces": "spans", "profiles": "profile samples"}
PRICE_FIELDS = {
    "logs": "price_per_million_log_records",
    "metrics": "price_per_million_metric_points",
    "traces": "price_per_million_spans",
}


@dataclass(frozen=True)
class Placement:
    """A configuration reaching one gateway: sent at `sent_at`, applied at `applied_at`; `until`: when it was
    replaced again (a rollback), or None."""

    gateway_id: object
    name: str
    sent_at: datetime | None
    applied_at: datetime
    until: datetime | None = None


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def windows(placement: Placement, now: datetime):
    """(before from, before to, after from, after to) of a placement in minute rows; the after window may be
    empty (from >= to)."""
    before_to = floor_minute(placement.sent_at or placement.applied_at)
    after_from = floor_minute(placement.applied_at) + SETTLE
    after_to = min(after_from + WINDOW, floor_minute(now))
    if placement.until is not None:
        after_to = min(after_to, floor_minute(placement.until))
    return before_to - WINDOW, before_to, after_from, max(after_to, after_from)


def hour_windows(placement: Placement, now: datetime):
    """The same windows in hour rows (minute rows older than the org's retention are summed into hours): the whole
    hour before the hour it was sent in, the first whole hour starting at least SETTLE after it was applied."""
    before_to = floor_hour(placement.sent_at or placement.applied_at)
    settled = placement.applied_at + SETTLE
    after_from = floor_hour(settled) + (WINDOW if settled != floor_hour(settled) else timedelta(0))
    after_to = min(after_from + WINDOW, floor_hour(now))
    if placement.until is not None:
        after_to = min(after_to, floor_hour(placement.until))
    return before_to - WINDOW, before_to, after_from, max(after_to, after_from)


@dataclass
class SignalComparison:
    """One signal over the gateways that had items in, in both windows. Rates are items per hour."""

    signal: str
    gateways: int = 0
    before_in: float = 0.0
    before_out: float = 0.0
    after_in: float = 0.0
    after_out: float = 0.0
    price: Decimal | None = None

    @property
    def items(self) -> str:
        return ITEMS[self.signal]

    @property
    def ratio_before(self) -> float | None:
        return self.before_out / self.before_in if self.before_in else None

    @property
    def ratio_after(self) -> float | None:
        return self.after_out / self.after_in if self.after_in else None

    @property
    def reduction_percent(self) -> float | None:
        """How much smaller out ÷ in became, in % (negative: it grew); None without anything out before."""
        if not self.ratio_before:
            return None
        return round(100 * (1 - self.ratio_after / self.ratio_before), 1)

    @property
    def out_change_percent(self) -> float | None:
        """The change of out per hour itself, in % (traffic changes included)."""
        if not self.before_out:
            return None
        return round(100 * (self.after_out / self.before_out - 1), 1)

    @property
    def saved_per_hour(self) -> float:
        """Items per hour the after traffic did not send that the old configuration would have (negative: more)."""
        return (self.ratio_before or 0.0) * self.after_in - self.after_out

    @property
    def monthly_saving(self) -> Decimal | None:
        """Estimated money saved per month (the org's currency), only with a price for the signal."""
        if self.price is None:
            return None
        amount = Decimal(str(self.saved_per_hour)) * HOURS_PER_MONTH * self.price / 1_000_000
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def sentence(self, subject: str) -> str:
        """'v3 cut log records by 38 % on 12 gateways, compared over 1 h before and after.'"""
        where = f"on {self.gateways} gateway{'s' if self.gateways != 1 else ''}"
        reduction = self.reduction_percent
        if reduction is None:
            change = f"sent no {self.items} before"
        elif reduction > 0:
            change = f"cut {self.items} by {reduction:g} %"
        elif reduction < 0:
            change = f"raised {self.items} by {-reduction:g} %"
        else:
            change = f"left {self.items} unchanged"
        return f"{subject} {change} {where}, compared over 1 h before and after."


@dataclass
class Comparison:
    signals: list = field(default_factory=list)  # SignalComparison, with gateways only
    placed: int = 0  # gateways the configuration was applied to
    compared: int = 0  # of those, gateways counted for at least one signal
    excluded: list = field(default_factory=list)  # names of the placed gateways counted for no signal
    open_windows: int = 0  # counted gateways whose hour after is not over yet
    minute_retention_hours: int | None = None  # the org's: older changes cannot be compared
    window_minutes: int = int(WINDOW.total_seconds() // 60)
    settle_minutes: int = int(SETTLE.total_seconds() // 60)


def prices(org_settings) -> dict:
    """{signal: price per million items or None} from the org's settings."""
    return {signal: getattr(org_settings, name) for signal, name in PRICE_FIELDS.items()}


def compare(org, placements, *, now=None, price_of=None) -> Comparison:
    """The Comparison of the org's rollups around `placements` (one per gateway; the first of a gateway wins).

    `price_of` ({signal: price or None}) defaults to the org's settings (one query)."""
    now = now or timezone.now()
    by_gateway = {}
    for placement in placements:
        by_gateway.setdefault(placement.gateway_id, placement)
    result = Comparison(placed=len(by_gateway))
    if price_of is None:
        org_settings = get_org_settings(org)
        price_of = prices(org_settings)
        result.minute_retention_hours = org_settings.telemetry_minute_retention_hours
    if not by_gateway:
        return result
    groups = defaultdict(list)
    for placement in by_gateway.values():
        groups[windows(placement, now), hour_windows(placement, now)].append(placement.gateway_id)
    sums, minutes = _query(org, groups)
    per_signal = {signal: SignalComparison(signal, price=price_of.get(signal)) for signal in SIGNALS}
    counted = set()
    for gateway_id in by_gateway:
        for signal, row in per_signal.items():
            rates = _rates(sums, minutes, gateway_id, signal)
            if rates is None:
                continue
            counted.add(gateway_id)
            row.gateways += 1
            row.before_in += rates[0]
            row.before_out += rates[1]
            row.after_in += rates[2]
            row.after_out += rates[3]
    result.signals = [row for row in per_signal.values() if row.gateways]
    result.compared = len(counted)
    result.excluded = sorted(p.name for gateway_id, p in by_gateway.items() if gateway_id not in counted)
    for ((_, _, after_from, _), _), ids in groups.items():
        if after_from + WINDOW > floor_minute(now):  # not over yet (a rollback's end is not counted here)
            result.open_windows += len(counted.intersection(ids))
    return result


# Phases of a window: minute rows ("b", "a"), else hour rows ("hb", "ha").
PHASES = {Resolution.MINUTE.value: ("b", "a"), Resolution.HOUR.value: ("hb", "ha")}
GATEWAYS_PER_QUERY = 1000  # up to 4 windows of 5 parameters each: 20,000, below PostgreSQL's and SQLite's limits


def _query(org, groups):
    """({(gateway, phase, signal): (in, out)}, {(gateway, phase): minutes with data}): one query per
    GATEWAYS_PER_QUERY gateways.

    Reads Throughput (per gateway × signal × minute, and × hour, written with the rollups), joined to the windows
    as a VALUES list: each gateway's rows are found by the (gateway, resolution, bucket, signal) index, never
    tested against every window.
    """
    windows_of = []
    for (minute_windows, hour_windows_), gateway_ids in groups.items():
        for gateway_id in gateway_ids:
            spans = []
            for resolution, (before_from, before_to, after_from, after_to) in (
                (Resolution.MINUTE.value, minute_windows),
                (Resolution.HOUR.value, hour_windows_),
            ):
                before, after = PHASES[resolution]
                spans.append((before, resolution, before_from, before_to))
                if after_to > after_from:
                    spans.append((after, resolution, after_from, after_to))
            windows_of.append((gateway_id, spans))
    sums, minutes = {}, {}
    for start in range(0, len(windows_of), GATEWAYS_PER_QUERY):
        for (gateway_id, phase, signal), (items_in, items_out, buckets) in _read(
            org, windows_of[start : start + GATEWAYS_PER_QUERY]
        ).items():
            sums[gateway_id, phase, signal] = (items_in, items_out)
            # Minutes with data: those in which the gateway's busiest signal moved items (an hour row is 60).
            covered = buckets * (60 if phase.startswith("h") else 1)
            minutes[gateway_id, phase] = max(minutes.get((gateway_id, phase), 0), covered)
    return sums, minutes


def _read(org, windows_of):
    meta = Throughput._meta
    gateway_field, bucket_field = meta.get_field("gateway"), meta.get_field("bucket")
    postgres = connection.vendor == "postgresql"
    row = (
        "(CAST(%s AS uuid), %s, %s, CAST(%s AS timestamptz), CAST(%s AS timestamptz))"
        if postgres
        else "(%s, %s, %s, %s, %s)"
    )
    values, params, names, ranges = [], [], {}, {}
    for gateway_id, spans in windows_of:
        prepared = gateway_field.get_db_prep_value(gateway_id, connection)
        names[str(prepared)] = gateway_id
        for phase, resolution, start, end in spans:
            low, high = ranges.get(resolution, (start, end))
            ranges[resolution] = (min(low, start), max(high, end))
            values.append(row)
            params += [prepared, phase, resolution]
            params += [
                bucket_field.get_db_prep_value(start, connection),
                bucket_field.get_db_prep_value(end, connection),
            ]
    table, quote = meta.db_table, connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column) for name in ("organization", "gateway", "resolution", "bucket")}
    # The time range of each resolution's windows, on the (organization, resolution, bucket) index: the join then
    # reads only the rows of those ranges, never the whole table.
    span = f"(t.{column['resolution']} = %s AND t.{column['bucket']} >= %s AND t.{column['bucket']} < %s)"
    # Only the model's own table and column names are formatted in; every value is a parameter.
    sql = (
        f"WITH w (gateway_id, phase, resolution, lo, hi) AS (VALUES {', '.join(values)}) "  # noqa: S608
        f"SELECT w.gateway_id, w.phase, t.signal, SUM(t.received), SUM(t.sent), COUNT(*) FROM {table} t "
        f"JOIN w ON t.{column['gateway']} = w.gateway_id AND t.{column['resolution']} = w.resolution "
        f"AND t.{column['bucket']} >= w.lo AND t.{column['bucket']} < w.hi "
        f"WHERE t.{column['organization']} = %s AND ({' OR '.join([span] * len(ranges))}) "
        "GROUP BY w.gateway_id, w.phase, t.signal"
    )
    params.append(meta.get_field("organization").get_db_prep_value(org.pk, connection))
    for resolution, (low, high) in ranges.items():
        params += [resolution, bucket_field.get_db_prep_value(low, connection)]
        params.append(bucket_field.get_db_prep_value(high, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            (names[str(gateway_id)], phase, signal): (int(items_in or 0), int(items_out or 0), buckets)
            for gateway_id, phase, signal, items_in, items_out, buckets in cursor.fetchall()
        }


def _rates(sums, minutes, gateway_id, signal):
    """(in before, out before, in after, out after) per hour of data for one gateway and signal, or None when it
    had no items in, in one of the windows. Minute rows where the gateway has any in a window, else hour rows."""
    rates = []
    for phase in ("b", "a"):
        if (gateway_id, phase) not in minutes:
            phase = "h" + phase
        items_in, items_out = sums.get((gateway_id, phase, signal), (0, 0))
        if not items_in:
            return None
        per_hour = 60 / minutes[(gateway_id, phase)]
        rates += [items_in * per_hour, items_out * per_hour]
    return rates


@dataclass
class Bar:
    phase: str  # "before" or "after"
    x: float
    y: float
    width: float
    height: float
    label: str  # the value drawn above the bar
    title: str  # its tooltip


@dataclass
class ChartGroup:
    label: str  # the signal's items
    change: str  # the reduction, "−50 %"
    x: float  # the group's centre
    bars: list


def chart(comparison: Comparison, *, width=900, height=200, pad_top=18, pad_bottom=38, gap=40) -> list:
    """Out per hour before and after, two bars per signal, each signal scaled to its own larger bar (signals count
    different items); the template only draws these ChartGroups."""
    rows = comparison.signals
    if not rows:
        return []
    plot_h = height - pad_top - pad_bottom
    group_w = (width - gap * (len(rows) + 1)) / len(rows)
    bar_w = min(group_w / 2 - 6, 110)
    groups = []
    for index, row in enumerate(rows):
        left = gap + index * (group_w + gap)
        centre = left + group_w / 2
        top = max(row.before_out, row.after_out) or 1
        bars = []
        for offset, phase, value in ((-bar_w - 3, "before", row.before_out), (3, "after", row.after_out)):
            bar_h = round(plot_h * value / top, 1)
            bars.append(
                Bar(
                    phase,
                    round(centre + offset, 1),
                    round(pad_top + plot_h - bar_h, 1),
                    round(bar_w, 1),
                    bar_h,
                    f"{compact(value)}/h",
                    f"{ITEMS[row.signal]} sent per hour {phase}: {round(value):,}",
                )
            )
        reduction = row.reduction_percent
        change = "—" if reduction is None else f"{-reduction:+g} % out ÷ in".replace("-", "−")
        groups.append(ChartGroup(ITEMS[row.signal], change, round(centre, 1), bars))
    return groups


def compact(value: float) -> str:
    """1234 -> '1.2k', 2500000 -> '2.5M'."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"
