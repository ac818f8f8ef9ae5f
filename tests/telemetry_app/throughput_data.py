"""Throughput rows written directly (bulk), for the read side's tests and bench/telemetry_pages.py."""

from datetime import timedelta

from telemetry_app.models import Resolution, Throughput
from telemetry_app.series import whole_hour, whole_minute


def minute_rows(gateway, now, *, minutes=60, signals=("logs", "traces"), received=100, sent=60, refused=1, failed=2):
    """One minute row per signal for each of the last `minutes` minutes (now's included); the processors
    drop what was received and not sent (dropped = received − sent), refused and failed come on top."""
    end = whole_minute(now)
    return [
        Throughput(
            organization_id=gateway.organization_id,
            gateway=gateway,
            resolution=Resolution.MINUTE,
            bucket=end - timedelta(minutes=index),
            signal=signal,
            received=received,
            refused=refused,
            dropped=received - sent,
            sent=sent,
            failed=failed,
        )
        for index in range(minutes)
        for signal in signals
    ]


def hour_rows(gateway, now, *, hours=24, signals=("logs", "traces"), received=6000, sent=3600, refused=60, failed=120):
    end = whole_hour(now)
    return [
        Throughput(
            organization_id=gateway.organization_id,
            gateway=gateway,
            resolution=Resolution.HOUR,
            bucket=end - timedelta(hours=index),
            signal=signal,
            received=received,
            refused=refused,
            dropped=received - sent,
            sent=sent,
            failed=failed,
        )
        for index in range(hours)
        for signal in signals
    ]
