"""The dashboard: the current organization's fleet, rollouts and failures at a glance."""

from django.views.generic import TemplateView

from core_app.pages import OrgPageMixin
from dashboard_app import charts, services
from telemetry_app import pages as telemetry_pages


class DashboardView(OrgPageMixin, TemplateView):
    template_name = "dashboard_app/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        counts = services.fleet_counts(self.org)
        outcomes = services.deployment_outcomes(self.org)
        outcome_bars, outcomes_empty = charts.bar_chart(outcomes)
        rolled_back_after = [(label, after) for _, label, _, after, _ in outcomes if after]
        context.update(
            counts=counts,
            drifted=services.drifted_gateways(self.org),
            degraded=services.degraded_gateways(self.org),
            active=services.active_deployments(self.org),
            failures=services.recent_failures(self.org),
            connected_chart=charts.line_chart(services.connected_history(self.org, counts=counts)),
            outcome_bars=outcome_bars,
            outcomes_empty=outcomes_empty,
            rolled_back_after=rolled_back_after,
            failed_targets=sum(row[4] for row in outcomes),
            throughput=telemetry_pages.fleet_context(self.org, self.request.GET.get(telemetry_pages.RANGE_PARAM)),
        )
        return context
