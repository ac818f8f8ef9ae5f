"""Rollup rows as a reporting collector leaves them, for the before-vs-after tests."""

from datetime import timedelta

from telemetry_app.models import Rollup


def rows(gateway, start, *, accepted, sent, signal="logs", minutes=60):
    """A gateway's rows of `minutes` minutes from `start`, as a reporting collector leaves them: its exporter's
    queue_size gauge every minute; the items it accepted and sent (counters) in the first minute."""
    made = [
        Rollup(
            organization=gateway.organization,
            gateway=gateway,
            bucket=start + timedelta(minutes=minute),
            component_kind="exporter",
            component="otlphttp",
            signal=signal,
            measure="queue_size",
            gauge=True,
            value=0,
            peak=0,
        )
        for minute in range(minutes)
    ]
    for kind, component, measure, value in (
        ("receiver", "filelog", "accepted", accepted),
        ("exporter", "otlphttp", "sent", sent),
    ):
        if value:
            made.append(
                Rollup(
                    organization=gateway.organization,
                    gateway=gateway,
                    bucket=start + timedelta(minutes=minutes // 2),
                    component_kind=kind,
                    component=component,
                    signal=signal,
                    measure=measure,
                    value=value,
                )
            )
    Rollup.objects.bulk_create(made)
