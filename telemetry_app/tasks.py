"""Celery tasks of gateway telemetry (thin: the work is in retention.py and health_status.py)."""

from celery import shared_task

from telemetry_app import health_status, retention


@shared_task(ignore_result=True)
def apply_retention():
    """Downsample minute rollups into hours and delete expired ones, for every organization."""
    done = retention.apply_all()
    return {str(org_id): list(counts) for org_id, counts in done.items() if any(counts)}


@shared_task(ignore_result=True)
def check_stale_metrics():
    """Mark degraded the gateways whose collector stopped sending its own metrics (health_status.check_stale)."""
    return health_status.check_stale()
