"""Query helpers for deployments."""

from django.db.models import Count, Q

from flowgate_site.querysets import OrgQuerySet


class DeploymentQuerySet(OrgQuerySet):
    def with_progress(self):
        """Annotate `target_count` and `progress_<status>` (targets per status), in one query."""
        from deployments_app.models import TargetStatus

        counts = {"target_count": Count("targets")}
        for status in TargetStatus.values:
            counts[f"progress_{status}"] = Count("targets", filter=Q(targets__status=status))
        return self.annotate(**counts)
