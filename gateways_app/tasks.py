"""Celery tasks of the gateways app. They call a service."""

from celery import shared_task

from gateways_app import rotation


@shared_task
def rotate_expiring_opamp_tokens():
    """Periodic (CELERY_BEAT_SCHEDULE): offer gateways a new OpAMP token before theirs expires."""
    return rotation.rotate_expiring()
