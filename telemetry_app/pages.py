"""Throughput on the pages: the gateway detail page's section and the dashboard's fleet card.

gateways_app must not import telemetry_app (docs/architecture.md, "Layers"): the gateway page renders
the sections registered in gateways_app.panels, and TelemetryConfig.ready() registers `gateway_panel`
there. The dashboard (above telemetry_app) calls `fleet_context` directly. Ranges are chosen with
links (`?throughput=24h`), so the pages work without JavaScript.
"""

from datetime import timedelta

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from telemetry_app import charts, series
from telemetry_app.models import Throughput

RANGE_PARAM = "throughput"
# key: (label, span, step in seconds). Steps under an hour read minute rows where the org keeps them.
GATEWAY_RANGES = {
    "1h": ("1 h", timedelta(hours=1), 60),
    "24h": ("24 h", timedelta(hours=24), 900),
    "7d": ("7 d", timedelta(days=7), 3600),
}
# The first is the default: the dashboard opens on the day (hour rows only: no retention lookup).
DASHBOARD_RANGES = {"24h": ("24 h", timedelta(hours=24), 3600), "1h": ("1 h", timedelta(hours=1), 60)}
STEP_LABELS = {60: "per minute", 900: "per 15 minutes", 3600: "per hour"}
SIGNAL_LABELS = {"logs": "Logs (log records)", "metrics": "Metrics (data points)", "traces": "Traces (spans)"}


def range_window(organization, ranges, key, now):
    """(key, series.Window) of a named range ending now (the current minute, or hour for hourly steps, included)."""
    key = key if key in ranges else next(iter(ranges))
    _label, span, step = ranges[key]
    if step % series.HOUR == 0:
        end = series.whole_hour(now) + timedelta(hours=1)
    else:
        end = series.whole_minute(now) + timedelta(minutes=1)
    return key, series.window(organization, end - span, end, step, now=now)


def signal_rows(by_signal: dict) -> list:
    """[{signal, label, chart, totals, reduction}] of {signal: [Point]} for the templates."""
    rows = []
    for signal, points in by_signal.items():
        total = series.totals(points)
        rows.append(
            {
                "signal": signal,
                "label": SIGNAL_LABELS.get(signal, signal),
                "chart": charts.throughput_chart(points),
                "totals": total,
                "reduction": series.reduction(total.received, total.sent),
            }
        )
    return rows


def _context(ranges, key, win, rows, by_signal) -> dict:
    signals = signal_rows(by_signal)
    received = sum(row["totals"].received for row in signals)
    sent = sum(row["totals"].sent for row in signals)
    quiet = all(row["chart"].empty for row in signals)
    return {
        "range_key": key,
        "range_label": ranges[key][0],
        "ranges": [(name, label) for name, (label, _span, _step) in ranges.items()],
        "range_param": RANGE_PARAM,
        "step_label": STEP_LABELS.get(win.step, f"per {win.step} s"),
        "hourly_before": win.minutes_from if win.minutes_from and win.minutes_from > win.start else None,
        "signals": signals,
        "received": received,
        "sent": sent,
        "reduction": series.reduction(received, sent),
        # Only when the range is quiet: does the gateway (or fleet) have any throughput at all?
        "never_reported": quiet and not rows.exists(),
    }


def gateway_context(gateway, key=None, now=None) -> dict:
    """The gateway page's throughput section: at most 3 queries (the org's minute retention for sub-hour steps,
    the series, and the no-data check only when the range is quiet)."""
    now = now or timezone.now()
    key, win = range_window(gateway.organization_id, GATEWAY_RANGES, key, now)
    rows = Throughput.objects.for_org(gateway.organization_id).filter(gateway_id=gateway.pk)
    context = _context(GATEWAY_RANGES, key, win, rows, series.series(rows, win))
    context["gateway"] = gateway
    return context


def gateway_panel(request, gateway) -> str:
    """The section gateways_app.panels renders on the gateway detail page."""
    context = gateway_context(gateway, request.GET.get(RANGE_PARAM))
    context["metrics_url"] = request.build_absolute_uri(reverse("telemetry-metrics"))
    return render_to_string("telemetry_app/_gateway_throughput.html", context, request=request)


def fleet_context(organization, key=None, now=None, top=10) -> dict:
    """The dashboard's fleet throughput: totals and charts per signal, reduction, the busiest gateways.

    3 queries over 24 h (series, then the busiest gateways and their names; or the no-data check when the
    range is quiet), one more over 1 h (the org's minute retention first), whatever the number of gateways.
    """
    now = now or timezone.now()
    key, win = range_window(organization, DASHBOARD_RANGES, key, now)
    rows = Throughput.objects.for_org(organization)
    context = _context(DASHBOARD_RANGES, key, win, rows, series.series(rows, win, fleet=True))
    context["top_gateways"] = series.top_gateways(rows, win, limit=top) if context["received"] else []
    return context
