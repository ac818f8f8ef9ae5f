from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry_app"
    verbose_name = "Gateway telemetry"
