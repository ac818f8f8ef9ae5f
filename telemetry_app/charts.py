"""Server-rendered SVG throughput charts: geometry only (templates draw what these return), as dashboard_app/charts.py.

Four lines per signal: received (in), sent (out), dropped (refused + processor drops) and failed, on one
scale; each slot has a transparent column whose <title> gives its numbers on hover, without JavaScript.
"""

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.html import format_html_join

LINES = (("received", "in"), ("sent", "out"), ("dropped_total", "dropped"), ("failed", "failed"))


def compact(value) -> str:
    """1234 → "1.2k", 5600000 → "5.6M": axis labels and totals that stay short."""
    if value is None:
        return "—"
    number = float(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            text = f"{number / limit:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return str(int(number))


@dataclass
class Chart:
    width: int
    height: int
    lines: list = field(default_factory=list)  # [(css class, label, SVG path)]
    y_ticks: list = field(default_factory=list)  # [(y, label)]
    x_labels: list = field(default_factory=list)  # [(x, label, anchor)]
    columns: list = field(default_factory=list)  # [(x, width, title)]
    columns_svg: str = ""  # the columns as <rect> elements with their <title>
    plot_top: int = 0
    plot_bottom: int = 0
    plot_left: int = 0
    plot_right: int = 0
    empty: bool = True

    @property
    def plot_height(self) -> int:
        return self.plot_bottom - self.plot_top


def value_of(point, name) -> int:
    return max(getattr(point, name), 0)  # a slot where a batch let out items it held reads as no drop, not negative


def throughput_chart(points, *, width=560, height=180, pad_left=44, pad_bottom=22, pad_top=10, pad_right=10):
    """Lay out [series.Point] (oldest first) as a Chart; empty when every value is zero."""
    chart = Chart(width, height, plot_top=pad_top, plot_bottom=height - pad_bottom, plot_left=pad_left)
    chart.plot_right = width - pad_right
    if not points:
        return chart
    plot_w = width - pad_left - pad_right
    plot_h = height - pad_top - pad_bottom
    top = max(value_of(point, name) for point in points for name, _ in LINES)
    chart.empty = top == 0
    top = max(top, 1)
    slot_w = plot_w / len(points)

    def x_of(index):
        return round(pad_left + slot_w * (index + 0.5), 1)

    def y_of(value):
        return round(pad_top + plot_h * (1 - value / top), 1)

    for name, label in LINES:
        coords = [(x_of(index), y_of(value_of(point, name))) for index, point in enumerate(points)]
        if len(coords) == 1:
            coords = [(pad_left, coords[0][1]), (pad_left + plot_w, coords[0][1])]
        chart.lines.append((name, label, "M " + " L ".join(f"{x} {y}" for x, y in coords)))
    # Coordinates as text: the template writes them as they are (a float would go through number localization,
    # which for a week of hourly slots cost more than the query).
    chart.y_ticks = [(str(y_of(value)), compact(value)) for value in sorted({0, top // 2, top})]
    for index, point in enumerate(points):
        moment = timezone.localtime(point.time)
        title = (
            f"{moment:%Y-%m-%d %H:%M}: in {point.received}, out {point.sent}, "
            f"dropped {point.dropped_total} (refused {point.refused}), failed {point.failed}"
        )
        chart.columns.append((round(pad_left + slot_w * index, 1), round(slot_w, 2), title))
    # The columns as markup (format_html escapes every value): a week has 168 per chart, and the template
    # language rendering each one's four attributes cost more than the query.
    chart.columns_svg = format_html_join(
        "",
        '<rect class="slot" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        ((x, pad_top, width, plot_h, title) for x, width, title in chart.columns),
    )
    chart.x_labels = [
        (pad_left, f"{timezone.localtime(points[0].time):%d %b %H:%M}", "start"),
        (pad_left + plot_w, "now", "end"),
    ]
    return chart
