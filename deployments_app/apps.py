from django.apps import AppConfig


def queue_tick(sender, deployment_id, **kwargs):
    """Receiver of deployments_app.signals.tick_requested: a worker runs the tick (at once without a broker)."""
    from deployments_app.tasks import advance_rollout

    advance_rollout.delay(str(deployment_id))


class DeploymentsConfig(AppConfig):
    name = "deployments_app"
    verbose_name = "Deployments"

    def ready(self):
        from deployments_app.signals import tick_requested

        tick_requested.connect(queue_tick, dispatch_uid="deployments_app.apps.queue_tick")
