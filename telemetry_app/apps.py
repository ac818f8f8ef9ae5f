from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry_app"
    verbose_name = "Gateway telemetry"

    def ready(self):
        from gateways_app import panels
        from telemetry_app import pages

        # The gateway detail page (gateways_app, a layer below) shows the throughput section this way.
        panels.register("throughput", pages.gateway_panel)
