from django.urls import path

from templates_app import views

# flowgate_site/urls.py adds deployments_app's template_urlpatterns (roll back to a version) to this section.
app_name = "templates"

urlpatterns = [
    path("", views.TemplateListView.as_view(), name="list"),
    path("new/", views.TemplateCreateView.as_view(), name="create"),
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("<uuid:pk>/", views.TemplateDetailView.as_view(), name="detail"),
    path("<uuid:pk>/edit/", views.VersionCreateView.as_view(), name="edit"),
    path("<uuid:pk>/diff/", views.DiffView.as_view(), name="diff"),
    path("<uuid:pk>/versions/<int:number>/", views.VersionDetailView.as_view(), name="version"),
]
