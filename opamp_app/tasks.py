"""Celery tasks of the OpAMP server. They take ids and call a service or push helper."""

from celery import shared_task

from opamp_app import push, services


@shared_task
def push_desired_config(gateway_ids):
    """Send the current desired config of these gateways (ids as strings) to their open connections."""
    return push.notify_config_changed(gateway_ids)


@shared_task
def mark_stale_gateways_offline():
    """Periodic (CELERY_BEAT_SCHEDULE): gateways silent for three heartbeats become offline."""
    return services.mark_stale_gateways_offline()
