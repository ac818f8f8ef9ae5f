"""Querysets of the templates app."""

from django.db.models import Count, Max, Q

from core_app.querysets import OrgQuerySet


class ConfigTemplateQuerySet(OrgQuerySet):
    def with_version_stats(self):
        """Annotate `current_version_number` (highest deployable version, or None: what a new
        deployment would use, see TemplateVersion.is_deployable), `latest_version_number` (highest
        version whatever its state) and `version_count`."""
        from templates_app.models import DEPLOYABLE_STATES

        return self.annotate(
            current_version_number=Max("versions__number", filter=Q(versions__validation_state__in=DEPLOYABLE_STATES)),
            latest_version_number=Max("versions__number"),
            version_count=Count("versions"),
        )
