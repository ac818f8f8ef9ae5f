from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard_app"
    verbose_name = "Dashboard"
