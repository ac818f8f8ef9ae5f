"""Template filters of the throughput pages."""

from django import template

from telemetry_app import charts

register = template.Library()


@register.filter
def compact(value):
    """1234 → 1.2k (charts.compact)."""
    return charts.compact(value)
