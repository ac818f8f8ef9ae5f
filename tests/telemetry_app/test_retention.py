"""Downsampling (minute rows → hour rows) and retention, by the org's settings, and the beat entry running it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from core_app.models import OrgSettings
from telemetry_app import retention, tasks
from telemetry_app.models import Resolution, Rollup

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 12, 20, tzinfo=UTC)


def row(gateway, bucket, value, *, measure="sent", gauge=False, peak=None, resolution=Resolution.MINUTE):
    return Rollup.objects.create(
        organization=gateway.organization,
        gateway=gateway,
        resolution=resolution,
        bucket=bucket,
        component_kind="exporter",
        component="otlphttp",
        signal="logs",
        measure=measure,
        gauge=gauge,
        value=value,
        peak=peak,
    )


def hours(gateway, measure="sent"):
    rows = Rollup.objects.filter(gateway=gateway, resolution=Resolution.HOUR, measure=measure).order_by("bucket")
    return [(r.bucket.strftime("%d %H:%M"), r.value, r.peak) for r in rows]


def minutes(gateway):
    rows = Rollup.objects.filter(gateway=gateway, resolution=Resolution.MINUTE).order_by("bucket")
    return [r.bucket.strftime("%d %H:%M") for r in rows]


def test_minutes_past_the_retention_are_summed_into_whole_hours(gateway):
    OrgSettings.objects.filter(organization=gateway.organization).update(telemetry_minute_retention_hours=2)
    # Cut-off: 12:20 - 2 h = 10:20, floored to 10:00. The 09:xx minutes go, 10:xx ones stay (their hour is not whole).
    for minute, value in ((0, 5), (30, 7), (59, 1)):
        row(gateway, datetime(2026, 12, 5, 9, minute, tzinfo=UTC), value)
    row(gateway, datetime(2026, 12, 5, 10, 5, tzinfo=UTC), 100)
    summed, expired = retention.apply(gateway.organization, NOW)
    assert (summed, expired) == (3, 0)
    assert hours(gateway) == [("05 09:00", 13, None)]
    assert minutes(gateway) == ["05 10:05"]


def test_gauges_become_the_mean_and_the_peak_of_their_minutes(gateway):
    OrgSettings.objects.filter(organization=gateway.organization).update(telemetry_minute_retention_hours=1)
    for minute, value, peak in ((1, 10, 40), (2, 20, 90), (3, 30, 30)):
        row(gateway, datetime(2026, 12, 5, 9, minute, tzinfo=UTC), value, measure="queue_size", gauge=True, peak=peak)
    retention.apply(gateway.organization, NOW)
    assert hours(gateway, "queue_size") == [("05 09:00", 20, 90)]


def test_late_minutes_are_added_to_an_hour_already_summed(gateway):
    OrgSettings.objects.filter(organization=gateway.organization).update(telemetry_minute_retention_hours=1)
    row(gateway, datetime(2026, 12, 5, 9, 10, tzinfo=UTC), 5)
    retention.apply(gateway.organization, NOW)
    row(gateway, datetime(2026, 12, 5, 9, 40, tzinfo=UTC), 3)  # arrived after its hour was summed
    retention.apply(gateway.organization, NOW)
    assert hours(gateway) == [("05 09:00", 8, None)]
    assert minutes(gateway) == []


def test_hours_past_their_retention_are_deleted(gateway):
    OrgSettings.objects.filter(organization=gateway.organization).update(telemetry_hour_retention_days=7)
    row(gateway, NOW - timedelta(days=8), 1, resolution=Resolution.HOUR)
    row(gateway, NOW - timedelta(days=6), 2, resolution=Resolution.HOUR)
    assert retention.apply(gateway.organization, NOW) == (0, 1)
    assert [value for _, value, _ in hours(gateway)] == [2]


def test_each_org_uses_its_own_settings(gateway, other_org):
    from gateways_app.models import Gateway

    theirs = Gateway.objects.create(organization=other_org, name="theirs")
    OrgSettings.objects.filter(organization=gateway.organization).update(telemetry_minute_retention_hours=1)
    OrgSettings.objects.filter(organization=other_org).update(telemetry_minute_retention_hours=48)
    for owner in (gateway, theirs):
        row(owner, NOW - timedelta(hours=3), 4)
    retention.apply_all(NOW)
    assert len(hours(gateway)) == 1 and minutes(gateway) == []
    assert hours(theirs) == [] and len(minutes(theirs)) == 1


def test_the_task_runs_on_the_beat_schedule(gateway):
    entry = settings.CELERY_BEAT_SCHEDULE["telemetry-retention"]
    assert entry["task"] == tasks.apply_retention.name == "telemetry_app.tasks.apply_retention"
    row(gateway, datetime(2000, 1, 1, tzinfo=UTC), 4, resolution=Resolution.HOUR)
    tasks.apply_retention()
    assert not Rollup.objects.exists()
