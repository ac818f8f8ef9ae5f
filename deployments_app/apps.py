from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments_app"
    verbose_name = "Deployments"
