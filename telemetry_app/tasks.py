"""Celery tasks of gateway telemetry (thin: the work is in retention.py)."""

from celery import shared_task

from telemetry_app import retention


@shared_task(ignore_result=True)
def apply_retention():
    """Downsample minute rollups into hours and delete expired ones, for every organization."""
    done = retention.apply_all()
    return {str(org_id): list(counts) for org_id, counts in done.items() if any(counts)}
