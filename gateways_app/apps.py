from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "gateways_app"
    verbose_name = "Gateways"
