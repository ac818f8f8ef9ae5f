"""The core's pages (namespace "core"): sign-in, org switcher, settings, audit log (root: flowgate_site/urls.py)."""

from django.urls import path

from core_app import views

app_name = "core"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("org/switch/", views.SwitchOrgView.as_view(), name="switch-org"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("audit/", views.AuditLogView.as_view(), name="audit-log"),
]
