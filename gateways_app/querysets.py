"""Gateway queries that pages, the dashboard and the rollout engine share.

One definition of config drift (the SQL twin of Gateway.has_config_drift()) and one list of the
fields an agent reports at length, so that no other app writes its own.
"""

from django.db.models import Count, F, Q

from core_app.querysets import OrgQuerySet
from opamp_core.proto import opamp_pb2

# What the agent reported at length: lists and tables never show it, so they never load it.
REPORT_FIELDS = ("agent_description", "health", "desired_config", "effective_config", "available_components")

ACCEPTS_REMOTE_CONFIG = opamp_pb2.AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig
# A gateway drifts when it was given a desired config and does not report it applied: it reports
# another one, or reports FAILED for this one (it still runs what it ran before: the supervisor
# keeps its last good config; a failed target a rollback could not return keeps this state).
DRIFTED = Q(desired_config_hash__gt="") & (
    ~Q(remote_config_hash=F("desired_config_hash")) | Q(remote_config_status="failed")
)

# The status pages, the API and filters show (Gateway.shown_status): degraded when OpAMP health says so or the
# collector's own metrics show a problem (telemetry_app/health.py); offline whatever the metrics said last.
METRICS_DEGRADED = Q(status="online", metrics_degraded_since__isnull=False)
SHOWN_STATUS = {
    "online": Q(status="online", metrics_degraded_since__isnull=True),
    "degraded": Q(status="degraded") | METRICS_DEGRADED,
    "offline": Q(status="offline"),
}


def report_fields(through=""):
    """REPORT_FIELDS as `.defer()` arguments, optionally through a relation ("gateway" on a target)."""
    if not through:
        return list(REPORT_FIELDS)
    return [f"{through}__{name}" for name in REPORT_FIELDS]


class GatewayQuerySet(OrgQuerySet):
    """Gateways, scoped like every org-owned model, with the questions several apps ask of them."""

    def drifted(self):
        """Gateways whose reported config differs from their desired one (Gateway.has_config_drift())."""
        return self.filter(DRIFTED)

    def with_shown_status(self, status):
        """Gateways whose shown status (Gateway.shown_status) is `status`: online, degraded or offline."""
        return self.filter(SHOWN_STATUS[status])

    def without_reports(self):
        """The gateways without their long reports (REPORT_FIELDS), for lists and tables."""
        return self.defer(*REPORT_FIELDS)

    def accepting_remote_config(self):
        """Gateways whose agent announced AcceptsRemoteConfig (the only ones a config push reaches)."""
        return self.annotate(accepts_remote_config=F("capabilities").bitand(ACCEPTS_REMOTE_CONFIG)).exclude(
            accepts_remote_config=0
        )

    def component_reports(self):
        """[(available_components, gateway count)], one per distinct AvailableComponents report of these gateways.

        A fleet runs few builds: one report is read per report hash, not one per gateway.
        """
        rows = self.exclude(available_components={}).values_list("pk", "available_components__hash")
        by_report = {}
        for pk, report_hash in rows:
            by_report.setdefault(report_hash or pk, []).append(pk)
        first = [pks[0] for pks in by_report.values()]
        reports = dict(self.model.objects.filter(pk__in=first).values_list("pk", "available_components"))
        return [(reports[pks[0]], len(pks)) for pks in by_report.values()]

    def count_by_desired_hash(self, hashes):
        """{desired_config_hash: how many of these gateways have it} for the given hashes (one query)."""
        rows = (
            self.filter(desired_config_hash__in=list(hashes))
            .values("desired_config_hash")
            .annotate(count=Count("pk"))
            .order_by()
        )
        return {row["desired_config_hash"]: row["count"] for row in rows}

    def count_running_by_hash(self, hashes):
        """{config hash: how many of these gateways run it} for the given hashes (one query).

        A gateway runs a config when it reported that remote config (by its hash) as applied.
        """
        from gateways_app.models import RemoteConfigStatus  # the models import this module

        rows = (
            self.filter(remote_config_status=RemoteConfigStatus.APPLIED, remote_config_hash__in=list(hashes))
            .values("remote_config_hash")
            .annotate(count=Count("pk"))
            .order_by()
        )
        return {row["remote_config_hash"]: row["count"] for row in rows}
