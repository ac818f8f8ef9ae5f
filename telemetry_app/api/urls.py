"""Routes of the telemetry app under /api/v1/ (with or without the trailing slash, as every API route)."""

from django.urls import re_path

from gateways_app.api.views import UUID_REGEX
from telemetry_app.api.views import GatewayThroughputView, OrgThroughputView

urlpatterns = [
    re_path(
        rf"^gateways/(?P<pk>{UUID_REGEX})/throughput/?$",
        GatewayThroughputView.as_view(),
        name="telemetry-gateway-throughput",
    ),
    re_path(r"^throughput/?$", OrgThroughputView.as_view(), name="telemetry-throughput"),
]
