from django.apps import AppConfig


def queue_tick(sender, deployment_id, **kwargs):
    """Receiver of deployments_app.signals.tick_requested: a worker runs the tick (at once without a broker)."""
    from deployments_app.tasks import advance_rollout

    advance_rollout.delay(str(deployment_id))


def queue_validation(sender, deployment_id, **kwargs):
    """Receiver of signals.validation_requested: a worker validates the new deployment.

    Without a broker (eager Celery) nothing is run here: the web request that created the
    deployment must not run the checks; the embedded beat's validate-deployments entry does.
    """
    from django.conf import settings

    from deployments_app.tasks import validate_deployment

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        validate_deployment.delay(str(deployment_id))


class DeploymentsConfig(AppConfig):
    name = "deployments_app"
    verbose_name = "Deployments"

    def ready(self):
        from deployments_app.signals import tick_requested, validation_requested

        tick_requested.connect(queue_tick, dispatch_uid="deployments_app.apps.queue_tick")
        validation_requested.connect(queue_validation, dispatch_uid="deployments_app.apps.queue_validation")
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
