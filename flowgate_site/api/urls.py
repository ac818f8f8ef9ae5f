"""Everything under /api/v1/: each app contributes its routes; schema and docs come last."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("", include("flowgate_site.api.core_urls")),
    path("", include("templates_app.api.urls")),
    path("", include("gateways_app.api.urls")),
    path("", include("deployments_app.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script=): no inline script, as the CSP asks.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
