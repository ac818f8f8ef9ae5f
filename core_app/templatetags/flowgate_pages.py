"""Template filters of the operator pages. They only format; states come from models and services."""

import json

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def as_json(value, indent=None):
    """A JSON rendering of a value (audit changes, agent description), sorted keys."""
    return json.dumps(value, sort_keys=True, indent=indent, default=str)


@register.filter
def ago(moment):
    """'3 minutes ago', 'never' for None."""
    if moment is None:
        return "never"
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    return f"{timesince(moment).split(',')[0]} ago"


@register.filter
def percent_of(part, whole):
    """part/whole as a percentage (0-100, one decimal) for bar widths; 0 when whole is 0."""
    if not whole:
        return "0"
    # A plain string: a localized number ("12,5") would break a CSS width.
    return f"{100 * (part or 0) / whole:.1f}"


@register.filter
def short_hash(value):
    return value[:12] if value else ""


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def as_strings(value):
    """A field value (one value, a list, or None) as a set of strings, to mark chosen options."""
    if value is None:
        return set()
    if isinstance(value, (list, tuple, set)):
        return {str(item) for item in value}
    return {str(value)}
