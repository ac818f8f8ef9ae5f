"""Before vs after in the API: GET /deployments/{id}/comparison/ and /templates/{id}/versions/{n}/comparison/.

The same figures as the pages (deployments_app.comparison, method in docs/telemetry.md). Read-only; another
organization's deployment, template or version is 404. `?format=csv` (or `Accept: text/csv`) answers one CSV row
per signal.
"""

import csv
import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from deployments_app import comparison
from deployments_app.models import Deployment
from telemetry_app.comparison import HOURS_PER_MONTH
from templates_app.models import ConfigTemplate


class SignalComparisonSerializer(serializers.Serializer):
    signal = serializers.CharField(help_text="logs, metrics, traces or profiles.")
    items = serializers.CharField(help_text="What the signal counts: log records, metric points, spans…")
    gateways = serializers.IntegerField(help_text="Gateways with items in, in both windows: the ones counted.")
    before_in_per_hour = serializers.FloatField(source="before_in", help_text="Items the receivers accepted.")
    after_in_per_hour = serializers.FloatField(source="after_in")
    before_out_per_hour = serializers.FloatField(source="before_out", help_text="Items the exporters sent.")
    after_out_per_hour = serializers.FloatField(source="after_out")
    out_change_percent = serializers.FloatField(allow_null=True, help_text="Change of out per hour itself.")
    ratio_before = serializers.FloatField(allow_null=True, help_text="Out ÷ in before.")
    ratio_after = serializers.FloatField(allow_null=True, help_text="Out ÷ in after.")
    reduction_percent = serializers.FloatField(
        allow_null=True, help_text="How much smaller out ÷ in became (negative: it grew): the version's effect."
    )
    saved_per_hour = serializers.FloatField(
        help_text="Out ÷ in before × in per hour after − out per hour after (negative: more sent)."
    )
    price_per_million = serializers.DecimalField(
        source="price", max_digits=12, decimal_places=4, allow_null=True, help_text="The org's price, if set."
    )
    estimated_monthly_saving = serializers.DecimalField(
        source="monthly_saving",
        max_digits=20,
        decimal_places=2,
        allow_null=True,
        help_text=f"An estimate: saved_per_hour × {HOURS_PER_MONTH} × price ÷ 1,000,000; null without a price.",
    )


class ComparisonSerializer(serializers.Serializer):
    placed = serializers.IntegerField(help_text="Gateways the version was applied to (by this deployment).")
    compared = serializers.IntegerField(help_text="Of those, gateways counted for at least one signal.")
    excluded = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the gateways not counted: no items in before or after."
    )
    open_windows = serializers.IntegerField(help_text="Counted gateways whose hour after is not over yet.")
    window_minutes = serializers.IntegerField()
    settle_minutes = serializers.IntegerField(help_text="The after window starts this long after applying.")
    signals = SignalComparisonSerializer(many=True)


class ComparisonCSVRenderer(BaseRenderer):
    """One row per signal, the columns of SignalComparisonSerializer."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    COLUMNS = tuple(SignalComparisonSerializer().fields)

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.COLUMNS)
        for row in (data or {}).get("signals", []):
            writer.writerow(["" if row[name] is None else row[name] for name in self.COLUMNS])
        return out.getvalue().encode(self.charset)


FORMAT = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="`csv`: one row per signal (or `Accept: text/csv`)."
)
CSV_ANSWER = OpenApiResponse(OpenApiTypes.STR, description=",".join(ComparisonCSVRenderer.COLUMNS))


class ComparisonView(GenericAPIView):
    serializer_class = ComparisonSerializer
    queryset = Deployment.objects.none()
    pagination_class = None
    filter_backends = []
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, ComparisonCSVRenderer]
    filename = "comparison.csv"

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors answer JSON whatever the format asked: a CSV of an error message helps nobody.
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), ComparisonCSVRenderer
        ):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and isinstance(request.accepted_renderer, ComparisonCSVRenderer):
            response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return response

    def answer(self, result, filename):
        self.filename = filename
        return Response(ComparisonSerializer(result).data)


@extend_schema(
    parameters=[FORMAT],
    responses={
        (200, "application/json"): ComparisonSerializer,
        (200, "text/csv"): CSV_ANSWER,
        404: OpenApiResponse(description="No such deployment."),
    },
    description="Before vs after on the deployment's gateways (method: docs/telemetry.md).",
)
class DeploymentComparisonView(ComparisonView):
    """GET /deployments/{id}/comparison/."""

    def get(self, request, pk):
        deployments = Deployment.objects.for_user(request.user).select_related("organization", "template_version")
        deployment = get_object_or_404(deployments, pk=pk)
        return self.answer(comparison.for_deployment(deployment), f"comparison-deployment-{deployment.pk}.csv")


@extend_schema(
    parameters=[
        OpenApiParameter("template_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The version's number."),
        FORMAT,
    ],
    responses={
        (200, "application/json"): ComparisonSerializer,
        (200, "text/csv"): CSV_ANSWER,
        404: OpenApiResponse(description="No such template or version."),
    },
    description="Before vs after on every gateway a deployment of the version was applied to.",
)
class VersionComparisonView(ComparisonView):
    """GET /templates/{template_id}/versions/{number}/comparison/."""

    def get(self, request, template_id, number):
        templates = ConfigTemplate.objects.for_user(request.user).select_related("organization")
        template = get_object_or_404(templates, pk=template_id)
        version = get_object_or_404(template.versions.all(), number=number)
        filename = f"comparison-template-{template.pk}-v{version.number}.csv"
        return self.answer(comparison.for_version(template.organization, version), filename)
