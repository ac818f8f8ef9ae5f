from django.urls import path

from deployments_app import views

app_name = "deployments"

urlpatterns = [
    path("", views.DeploymentListView.as_view(), name="list"),
    path("new/", views.DeploymentCreateView.as_view(), name="create"),
    path("new/preview/", views.SelectorPreviewView.as_view(), name="preview"),
    path("<uuid:pk>/", views.DeploymentDetailView.as_view(), name="detail"),
    path("<uuid:pk>/<slug:action>/", views.DeploymentActionView.as_view(), name="action"),
]
