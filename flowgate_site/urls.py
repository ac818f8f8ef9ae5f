from django.contrib import admin
from django.urls import include, path

from flowgate_site.admin_views import view_on_site

admin.site.site_header = "FlowGate administration"
admin.site.site_title = "FlowGate"

urlpatterns = [
    # Before admin.site.urls: the admin's own "view on site" redirect looks ids up in every organization.
    path("admin/r/<int:content_type_id>/<path:object_id>/", admin.site.admin_view(view_on_site)),
    path("admin/", admin.site.urls),
    path("", include("opamp_app.urls")),  # OpAMP over plain HTTP: /v1/opamp, /api/v1/opamp/v1/opamp
    path("api/v1/", include("flowgate_site.api.urls")),
    # Operator pages: the dashboard at /, then one section per app.
    path("", include("flowgate_site.urls_pages")),
    path("", include("dashboard_app.urls")),
    path("templates/", include("templates_app.urls")),
    path("deployments/", include("deployments_app.urls")),
    path("gateways/", include("gateways_app.urls")),
]

# Error pages a person can act on, never a stack trace (flowgate_site/templates/{403,404,500}.html).
handler403 = "flowgate_site.views.permission_denied"
handler404 = "flowgate_site.views.page_not_found"
handler500 = "flowgate_site.views.server_error"
