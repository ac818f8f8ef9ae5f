"""The root URLconf: each app's pages come from its urls.py, its API routes from its api/urls.py."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core_app.admin_views import view_on_site
from deployments_app.urls import template_urlpatterns as deployment_template_routes
from flowgate_site.api_root import ApiRootView
from templates_app.urls import app_name as templates_namespace
from templates_app.urls import urlpatterns as template_routes

admin.site.site_header = "FlowGate administration"
admin.site.site_title = "FlowGate"

urlpatterns = [
    # Before admin.site.urls: the admin's own "view on site" redirect looks ids up in every organization.
    path("admin/r/<int:content_type_id>/<path:object_id>/", admin.site.admin_view(view_on_site)),
    path("admin/", admin.site.urls),
    path("", include("opamp_app.urls")),  # OpAMP over plain HTTP: /v1/opamp, /api/v1/opamp/v1/opamp
    path("", include("telemetry_app.urls")),  # gateways' own metrics, OTLP/HTTP: /v1/metrics
    # Everything else under /api/v1/: its index (with or without the slash, as every API route), each app's routes,
    # then the schema and its docs.
    re_path(r"^api/v1/?$", ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include("core_app.api.urls")),
    path("api/v1/", include("templates_app.api.urls")),
    path("api/v1/", include("telemetry_app.api.urls")),  # before the gateways router: gateways/{id}/throughput/
    path("api/v1/", include("gateways_app.api.urls")),
    path("api/v1/", include("deployments_app.api.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script=): no inline script, as the CSP asks.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Operator pages: the dashboard at /, then one section per app.
    path("", include("core_app.urls")),
    path("", include("dashboard_app.urls")),
    # The templates section: its pages, and the rollback to a version (a deployment, deployments_app's view).
    path("templates/", include((template_routes + deployment_template_routes, templates_namespace))),
    path("deployments/", include("deployments_app.urls")),
    path("gateways/", include("gateways_app.urls")),
]

# Error pages a person can act on, never a stack trace (flowgate_site/templates/{400,403,404,500}.html; a failed CSRF
# check renders 403_csrf.html, Django's own hook); under /api/ they answer JSON.
handler400 = "core_app.views.bad_request"
handler403 = "core_app.views.permission_denied"
handler404 = "core_app.views.page_not_found"
handler500 = "core_app.views.server_error"
