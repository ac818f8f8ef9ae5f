"""Celery tasks of the OpAMP server. They call a service."""

from celery import shared_task

from opamp_app import services


@shared_task
def mark_stale_gateways_offline():
    """Periodic (CELERY_BEAT_SCHEDULE): gateways silent for three heartbeats become offline."""
    return services.mark_stale_gateways_offline()
