"""Geometry of the dashboard's server-rendered SVG charts (templates only draw what these return)."""

from dataclasses import dataclass, field

from django.utils import timezone

MAX_DOTS = 60


@dataclass
class LineChart:
    """A time series drawn as a line over a filled area, with y ticks and first/last time labels."""

    width: int
    height: int
    line: str = ""  # SVG path "M x y L x y ..."
    area: str = ""
    y_ticks: list = field(default_factory=list)  # [(y, label)]
    x_labels: list = field(default_factory=list)  # [(x, label, anchor)]
    dots: list = field(default_factory=list)  # [(x, y, title)]
    empty: bool = True


def line_chart(points, *, width=560, height=180, pad_left=36, pad_bottom=22, pad_top=10, pad_right=10):
    """Lay out [(datetime, value, total)] (oldest first) as a LineChart; value is drawn, total sets the scale."""
    chart = LineChart(width=width, height=height)
    if not points:
        return chart
    plot_w = width - pad_left - pad_right
    plot_h = height - pad_top - pad_bottom
    top = max(max(total for _, _, total in points), max(value for _, value, _ in points), 1)
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0

    def x_of(moment):
        return round(pad_left + plot_w * ((moment - start).total_seconds() / span), 1)

    def y_of(value):
        return round(pad_top + plot_h * (1 - value / top), 1)

    coords = [(x_of(moment), y_of(value)) for moment, value, _ in points]
    if len(coords) == 1:
        coords = [(pad_left, coords[0][1]), (pad_left + plot_w, coords[0][1])]
    chart.line = "M " + " L ".join(f"{x} {y}" for x, y in coords)
    bottom = pad_top + plot_h
    chart.area = f"{chart.line} L {coords[-1][0]} {bottom} L {coords[0][0]} {bottom} Z"
    chart.y_ticks = [(y_of(value), str(value)) for value in sorted({0, top // 2, top})]
    # Dots (with a tooltip each) only where they stay apart: a day of 5-minute samples is a plain line.
    if len(points) <= MAX_DOTS:
        chart.dots = [
            (x, y, f"{timezone.localtime(moment):%Y-%m-%d %H:%M}: {value} of {total} connected")
            for (x, y), (moment, value, total) in zip(coords, points, strict=False)
        ]
    chart.x_labels = [
        (pad_left, f"{timezone.localtime(start):%d %b %H:%M}", "start"),
        (pad_left + plot_w, "now", "end"),
    ]
    chart.empty = False
    return chart


@dataclass
class Bar:
    key: str
    label: str
    count: int
    x: float
    width: float
    y: float
    height: float


def bar_chart(items, *, width=560, height=180, pad_bottom=22, pad_top=16, gap=24):
    """Lay out [(key, label, count, ...)] as vertical bars (items may carry more); returns (bars, is_empty)."""
    if not items:
        return [], True
    top = max(item[2] for item in items) or 1
    plot_h = height - pad_top - pad_bottom
    bar_w = (width - gap * (len(items) + 1)) / len(items)
    bars = []
    for index, (key, label, count, *_) in enumerate(items):
        bar_h = round(plot_h * count / top, 1)
        x = round(gap + index * (bar_w + gap), 1)
        bars.append(Bar(key, label, count, x, round(bar_w, 1), round(pad_top + plot_h - bar_h, 1), bar_h))
    return bars, all(bar.count == 0 for bar in bars)
