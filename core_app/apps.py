from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The tenancy core: organizations, memberships and roles, per-org settings, audit log, API tokens.

    Why the label is "flowgate_site": these models were born in the project package (flowgate_site/)
    and moved here when the project package was set apart from the core (issue 12). An app's label
    names its tables (flowgate_site_organization, ...), its rows in django_migrations and
    django_content_type, its permission codenames (flowgate_site.change_membership), its admin URLs
    (/admin/flowgate_site/membership/) and the ("flowgate_site", "0001_initial") dependency of the
    other apps' migrations. Keeping the label keeps all of them, so the move needs no database
    operation and no migration; only the Python path changed.
    """

    name = "core_app"
    label = "flowgate_site"
    verbose_name = "Organizations"

    def ready(self):
        from core_app import checks, lookups  # noqa: F401  (registers the deploy checks)

        lookups.register()
