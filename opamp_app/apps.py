from django.apps import AppConfig


class OpampConfig(AppConfig):
    name = "opamp_app"
    verbose_name = "Opamp"
