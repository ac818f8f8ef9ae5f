from django.apps import AppConfig


class FlowgateSiteConfig(AppConfig):
    name = "flowgate_site"
    verbose_name = "Organizations"

    def ready(self):
        from flowgate_site import checks, lookups  # noqa: F401  (registers the deploy checks)

        lookups.register()
