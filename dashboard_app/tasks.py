"""Periodic task of the dashboard (CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from dashboard_app import services


@shared_task
def record_fleet_snapshots():
    """Sample every organization's gateways per status, for the "connected over time" chart."""
    return services.record_fleet_snapshots()
