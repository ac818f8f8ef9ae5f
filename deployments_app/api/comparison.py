"""Before vs after in the API: GET /deployments/{id}/comparison/ and /templates/{id}/versions/{n}/comparison/.

The same figures as the pages (deployments_app.comparison, method in docs/telemetry.md). Read-only; another
organization's deployment, template or version is 404.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, get_object_or_404
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


class ComparisonView(GenericAPIView):
    serializer_class = ComparisonSerializer
    queryset = Deployment.objects.none()
    pagination_class = None
    filter_backends = []

    def answer(self, result):
        return Response(ComparisonSerializer(result).data)


@extend_schema(
    responses={200: ComparisonSerializer, 404: OpenApiResponse(description="No such deployment.")},
    description="Before vs after on the deployment's gateways (method: docs/telemetry.md).",
)
class DeploymentComparisonView(ComparisonView):
    """GET /deployments/{id}/comparison/."""

    def get(self, request, pk):
        deployments = Deployment.objects.for_user(request.user).select_related("organization", "template_version")
        return self.answer(comparison.for_deployment(get_object_or_404(deployments, pk=pk)))


@extend_schema(
    parameters=[
        OpenApiParameter("template_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The version's number."),
    ],
    responses={200: ComparisonSerializer, 404: OpenApiResponse(description="No such template or version.")},
    description="Before vs after on every gateway a deployment of the version was applied to.",
)
class VersionComparisonView(ComparisonView):
    """GET /templates/{template_id}/versions/{number}/comparison/."""

    def get(self, request, template_id, number):
        templates = ConfigTemplate.objects.for_user(request.user).select_related("organization")
        template = get_object_or_404(templates, pk=template_id)
        version = get_object_or_404(template.versions.all(), number=number)
        return self.answer(comparison.for_version(template.organization, version))
