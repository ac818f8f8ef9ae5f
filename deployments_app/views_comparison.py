"""Before-vs-after pages: a deployment's and a template version's comparison (deployments_app.comparison).

Each answers htmx with the `_comparison.html` fragment (the deployment and version pages load it after they
render: the comparison reads throughput rows, the pages should not wait for it) and a plain request with a whole page
(the fragment's no-JavaScript link).
"""

from django.views.generic import TemplateView

from core_app.pages import OrgPageMixin, is_htmx
from deployments_app import comparison
from deployments_app.models import Deployment
from telemetry_app.comparison import chart
from templates_app.models import ConfigTemplate, TemplateVersion


def comparison_context(result, subject):
    return {
        "comparison": result,
        "rows": [(row, row.sentence(subject)) for row in result.signals],
        "groups": chart(result),
        "priced": any(row.price is not None for row in result.signals),
    }


class ComparisonPageMixin(OrgPageMixin):
    def get_template_names(self):
        return ["deployments_app/_comparison.html"] if is_htmx(self.request) else ["deployments_app/comparison.html"]


class DeploymentComparisonView(ComparisonPageMixin, TemplateView):
    """GET /deployments/<pk>/comparison/."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        deployments = self.scoped(Deployment).select_related("organization", "template_version__template")
        deployment = self.get_scoped_object(deployments, pk=self.kwargs["pk"])
        version = deployment.template_version
        context.update(
            comparison_context(comparison.for_deployment(deployment), f"v{version.number}"),
            version=version,
            deployment=deployment,
        )
        return context


class VersionComparisonView(ComparisonPageMixin, TemplateView):
    """GET /templates/<pk>/versions/<number>/comparison/ (mounted in the templates section, like the rollback)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.get_scoped_object(self.scoped(ConfigTemplate), pk=self.kwargs["pk"])
        versions = self.scoped(TemplateVersion).filter(template=template).select_related("template")
        version = self.get_scoped_object(versions, number=self.kwargs["number"])
        context.update(
            comparison_context(comparison.for_version(self.org, version), f"v{version.number}"), version=version
        )
        return context
