"""Throughput rows as a reporting collector leaves them (telemetry_app.throughput), for the before-vs-after tests."""

from datetime import timedelta

from telemetry_app.models import Throughput


def rows(gateway, start, *, accepted, sent, signal="logs", minutes=60, resolution="minute"):
    """A gateway's rows of one signal for `minutes` minutes from `start` (hour rows: `minutes` hours), the items it
    received and sent spread over them (the remainder in the first), as a collector with steady traffic reports."""
    step = timedelta(hours=1) if resolution == "hour" else timedelta(minutes=1)
    Throughput.objects.bulk_create(
        Throughput(
            organization=gateway.organization,
            gateway=gateway,
            resolution=resolution,
            bucket=start + index * step,
            signal=signal,
            received=accepted // minutes + (accepted % minutes if index == 0 else 0),
            sent=sent // minutes + (sent % minutes if index == 0 else 0),
        )
        for index in range(minutes)
    )
