"""Downsampling and retention of rollups, per organization (OrgSettings.telemetry_*; docs/telemetry.md).

Minute rows older than `telemetry_minute_retention_hours` (whole hours only) are summed into hour rows
and deleted; hour rows older than `telemetry_hour_retention_days` are deleted. In an hour row a counter
holds the sum of its minutes, a gauge the mean of its minutes' last values and the largest peak.
The aggregation is one GROUP BY in the database; an hour that already has a row (minutes that arrived
late, after their hour was summed) is merged into it.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Avg, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from core_app.models import Organization, OrgSettings
from telemetry_app import throughput
from telemetry_app.models import Resolution, Rollup

GROUP_FIELDS = ("gateway_id", "component_kind", "component", "signal", "measure", "gauge")


def apply_all(now=None) -> dict:
    """Downsample and expire every organization's rollups: {org id: (minute rows summed, rows deleted)}."""
    now = now or timezone.now()
    return {organization.pk: apply(organization, now) for organization in Organization.objects.all()}


def settings_of(organization):
    """(minute retention hours, hour retention days), read now (not from a settings object cached on the org)."""
    found = OrgSettings.objects.filter(organization=organization).values_list(
        "telemetry_minute_retention_hours", "telemetry_hour_retention_days"
    )
    return found.first() or (48, 90)


def apply(organization, now=None) -> tuple[int, int]:
    now = now or timezone.now()
    minute_hours, hour_days = settings_of(organization)
    cutoff = (now - timedelta(hours=minute_hours)).replace(minute=0, second=0, microsecond=0)
    with transaction.atomic():
        summed = downsample(organization, cutoff)
        expired, _ = Rollup.objects.filter(
            organization=organization, resolution=Resolution.HOUR, bucket__lt=now - timedelta(days=hour_days)
        ).delete()
        throughput.expire(organization, minutes_before=cutoff, hours_before=now - timedelta(days=hour_days))
    return summed, expired


def downsample(organization, cutoff) -> int:
    """Sum the org's minute rows before `cutoff` (an hour boundary) into hour rows; the minute rows go."""
    minutes = Rollup.objects.filter(organization=organization, resolution=Resolution.MINUTE, bucket__lt=cutoff)
    groups = (
        minutes.annotate(hour=TruncHour("bucket"))
        .values(*GROUP_FIELDS, "hour")
        .annotate(total=Sum("value", filter=Q(gauge=False)), mean=Avg("value", filter=Q(gauge=True)), top=Max("peak"))
        .order_by()
    )
    cells = {}
    for group in groups:
        key = (group["gateway_id"], group["hour"], *(group[name] for name in GROUP_FIELDS[1:5]))
        value = round(group["mean"] or 0) if group["gauge"] else group["total"] or 0
        cells[key] = (group["gauge"], value, group["top"])
    if not cells:
        return 0
    merge_existing(organization, cells)
    Rollup.objects.bulk_create(
        [
            Rollup(
                organization=organization,
                gateway_id=key[0],
                resolution=Resolution.HOUR,
                bucket=key[1],
                component_kind=key[2],
                component=key[3],
                signal=key[4],
                measure=key[5],
                gauge=gauge,
                value=value,
                peak=peak,
            )
            for key, (gauge, value, peak) in cells.items()
        ],
        update_conflicts=True,
        unique_fields=["gateway", "resolution", "bucket", "component_kind", "component", "signal", "measure"],
        update_fields=["value", "peak", "gauge"],
        batch_size=2000,
    )
    summed, _ = minutes.delete()
    return summed


def merge_existing(organization, cells: dict) -> None:
    """Add counters (and take the larger peak of gauges) of hour rows that already exist for these hours."""
    hours = {key[1] for key in cells}
    existing = Rollup.objects.filter(organization=organization, resolution=Resolution.HOUR, bucket__in=hours)
    fields = ("gateway_id", "bucket", "component_kind", "component", "signal", "measure", "value", "peak")
    for gateway_id, bucket, kind, component, signal, measure, value, peak in existing.values_list(*fields):
        key = (gateway_id, bucket, kind, component, signal, measure)
        if key not in cells:
            continue
        gauge, new_value, new_peak = cells[key]
        if gauge:
            cells[key] = (gauge, new_value, max(new_peak or 0, peak or 0))
        else:
            cells[key] = (gauge, new_value + value, new_peak)
