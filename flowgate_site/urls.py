from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "FlowGate administration"
admin.site.site_title = "FlowGate"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("opamp_app.urls")),  # OpAMP over plain HTTP: /v1/opamp, /api/v1/opamp/v1/opamp
    path("api/v1/", include("flowgate_site.api.urls")),
]
