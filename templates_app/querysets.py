"""Querysets of the templates app."""

from django.db.models import Count, Max

from core_app.querysets import OrgQuerySet


class ConfigTemplateQuerySet(OrgQuerySet):
    def with_version_stats(self):
        """Annotate `current_version_number` (highest version, or None) and `version_count`."""
        return self.annotate(
            current_version_number=Max("versions__number"),
            version_count=Count("versions"),
        )
