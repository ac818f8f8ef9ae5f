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
        register_template_usage()


def register_template_usage():
    """Tell templates_app where templates run (templates_app.usage): it imports neither gateways nor deployments."""
    from deployments_app.models import Deployment
    from gateways_app.models import Gateway
    from templates_app import usage

    usage.register(
        component_reports=lambda org: Gateway.objects.for_org(org).component_reports(),
        deployed_counts=lambda org, hashes: Gateway.objects.for_org(org).count_by_desired_hash(hashes),
        running_counts=lambda org, hashes: Gateway.objects.for_org(org).count_running_by_hash(hashes),
        recent_deployments=lambda org, template, limit: Deployment.objects.for_org(org).of_template(template)[:limit],
    )
