from django.urls import path

from deployments_app import views, views_comparison

app_name = "deployments"

urlpatterns = [
    path("", views.DeploymentListView.as_view(), name="list"),
    path("new/", views.DeploymentCreateView.as_view(), name="create"),
    path("new/preview/", views.SelectorPreviewView.as_view(), name="preview"),
    path("<uuid:pk>/", views.DeploymentDetailView.as_view(), name="detail"),
    path("<uuid:pk>/comparison/", views_comparison.DeploymentComparisonView.as_view(), name="comparison"),
    path("<uuid:pk>/<slug:action>/", views.DeploymentActionView.as_view(), name="action"),
]

# Deployments started from a template's pages: flowgate_site/urls.py mounts these in the templates
# section (/templates/, names templates:...), so that templates_app need not know deployments.
template_urlpatterns = [
    path("<uuid:pk>/versions/<int:number>/rollback/", views.RollBackToVersionView.as_view(), name="rollback"),
    path(
        "<uuid:pk>/versions/<int:number>/comparison/",
        views_comparison.VersionComparisonView.as_view(),
        name="comparison",
    ),
]
