"""GET /gateways/{id}/throughput/ and GET /throughput/: throughput series, as JSON or CSV.

Thin: the query parameters are checked by ThroughputQuery (400 naming each wrong one), the rows come
from telemetry_app.series (one query per request for the series, plus the org's retention setting for
steps under an hour). Any member reads (viewers included); another organization's gateway is 404.
`?format=csv` or `Accept: text/csv` answers one CSV row per time slot and signal.
"""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core_app.models import Organization
from gateways_app.models import Gateway
from telemetry_app import series
from telemetry_app.api.serializers import CSVRenderer, ThroughputQuery, ThroughputSerializer
from telemetry_app.models import Throughput

PARAMETERS = [
    OpenApiParameter(
        "signal", str, enum=list(series.ALL_SIGNALS), description="One signal; without it logs, metrics and traces."
    ),
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start (ISO 8601, inclusive); default `to` − 24 h."),
    OpenApiParameter(
        "to", OpenApiTypes.DATETIME, description="End (ISO 8601, exclusive); default the end of the current minute."
    ),
    OpenApiParameter(
        "step",
        str,
        description="Slot length: seconds (`300`) or `5m`, `1h`, `1d`; a whole number of minutes; at most "
        f"{ThroughputQuery.MAX_POINTS} slots. Default: the smallest of 1m, 5m, 15m, 1h, 6h, 1d that fits.",
    ),
    OpenApiParameter(
        "format", str, enum=["json", "csv"], description="`csv`: one row per slot and signal (or `Accept: text/csv`)."
    ),
]
RESPONSES = {
    (200, "application/json"): ThroughputSerializer,
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="time,signal,received,refused,…"),
    400: OpenApiResponse(description="A query parameter is wrong; the answer names it."),
    404: OpenApiResponse(description="No such gateway (or another organization's)."),
}


class ThroughputView(APIView):
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors answer JSON whatever the format asked: a CSV of an error message helps nobody.
        if response.status_code >= 400 and isinstance(getattr(request, "accepted_renderer", None), CSVRenderer):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and isinstance(request.accepted_renderer, CSVRenderer):
            response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return response

    def answer(self, request, organization, rows, *, gateway=None):
        query = ThroughputQuery(data=request.query_params, context={"now": timezone.now()})
        query.is_valid(raise_exception=True)
        params = query.validated_data
        win = series.window(organization, params["from"], params["to"], params["step"], now=timezone.now())
        by_signal = series.series(rows, win, params["signals"], fleet=gateway is None)
        self.filename = f"throughput-{gateway.name if gateway else organization.slug}-{win.start:%Y%m%dT%H%M}.csv"
        data = {
            "organization": organization.slug,
            "gateway": gateway.pk if gateway else None,
            "from": win.start,
            "to": win.end,
            "step": win.step,
            "hourly_before": win.minutes_from if win.minutes_from and win.minutes_from > win.start else None,
            "series": [
                {
                    "signal": signal,
                    "totals": series.totals(points, win.start).as_dict(),
                    "points": [point.as_dict() for point in points],
                }
                for signal, points in by_signal.items()
            ],
        }
        # Plain data, rendered as is (DRF's encoder writes times as ISO 8601, "Z" for UTC): running a serializer
        # over 2,000 points × 4 signals would cost more than the query. ThroughputSerializer documents it.
        return Response(data)


class GatewayThroughputView(ThroughputView):
    @extend_schema(parameters=PARAMETERS, responses=RESPONSES, operation_id="gateway_throughput")
    def get(self, request, pk):
        """A gateway's throughput series: items in, dropped, out and failed per slot and signal."""
        gateway = get_object_or_404(Gateway.objects.for_user(request.user).select_related("organization"), pk=pk)
        rows = Throughput.objects.for_org(gateway.organization).filter(gateway=gateway)
        return self.answer(request, gateway.organization, rows, gateway=gateway)


class OrgThroughputView(ThroughputView):
    @extend_schema(
        parameters=[
            OpenApiParameter("organization", str, description="Slug; defaults to your only organization."),
            *PARAMETERS,
        ],
        responses=RESPONSES,
        operation_id="throughput",
    )
    def get(self, request):
        """The organization's throughput series: all its gateways' items in, dropped, out and failed, added up."""
        organization = self.organization(request)
        return self.answer(request, organization, Throughput.objects.for_org(organization))

    def organization(self, request):
        orgs = Organization.objects.for_user(request.user)
        slug = request.query_params.get("organization")
        if slug:
            return get_object_or_404(orgs, slug=slug)
        found = list(orgs[:2])
        if len(found) != 1:
            raise ValidationError({"organization": ["Name the organization (slug): you belong to several."]})
        return found[0]
