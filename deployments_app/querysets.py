"""Query helpers for deployments."""

from django.db.models import Count, F, Q

from core_app.querysets import OrgQuerySet
from deployments_app.choices import RollbackState, TargetStatus
from gateways_app.models import GatewayStatus


def waiting_offline_filter(prefix=""):
    """Targets of the batches sent so far that wait for their gateway to connect (pending, gateway offline).

    `prefix` is the path from the queried model to the targets ("targets__" from a deployment).
    """
    return Q(
        **{
            f"{prefix}status": TargetStatus.PENDING,
            f"{prefix}batch__lte": F("current_batch" if prefix else "deployment__current_batch"),
            f"{prefix}gateway__status": GatewayStatus.OFFLINE,
        }
    )


class DeploymentQuerySet(OrgQuerySet):
    def with_progress(self):
        """Annotate `target_count`, `progress_<status>` (targets per status) and `waiting_offline`, in one query.

        Also `progress_rolled_back` (targets whose gateway applied their previous config again) and
        `progress_returning` (given it back, not applied yet): a rollback keeps the targets' status,
        so these overlap the status counts.
        """
        counts = {"target_count": Count("targets")}
        for status in TargetStatus.values:
            counts[f"progress_{status}"] = Count("targets", filter=Q(targets__status=status))
        counts["progress_rolled_back"] = Count("targets", filter=Q(targets__rollback=RollbackState.RESTORED))
        counts["progress_returning"] = Count("targets", filter=Q(targets__rollback=RollbackState.RETURNING))
        counts["waiting_offline"] = Count("targets", filter=waiting_offline_filter("targets__"))
        return self.annotate(**counts)

    def of_template(self, template):
        """Deployments of any version of `template`, newest first, with their progress and version."""
        rows = self.filter(template_version__template=template).with_progress()
        return rows.select_related("template_version").order_by("-created_at", "-pk")
