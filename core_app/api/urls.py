"""The core's API routes: organizations, their settings and audit log. Included by flowgate_site/urls.py."""

from rest_framework.routers import SimpleRouter

from core_app.api import views

router = SimpleRouter(trailing_slash="/?")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("settings", views.OrgSettingsViewSet, basename="settings")
router.register("audit-logs", views.AuditLogViewSet, basename="auditlog")

urlpatterns = router.urls
