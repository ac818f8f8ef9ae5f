from rest_framework.routers import SimpleRouter

from flowgate_site.api import views

router = SimpleRouter(trailing_slash="/?")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("settings", views.OrgSettingsViewSet, basename="settings")
router.register("audit-logs", views.AuditLogViewSet, basename="auditlog")

urlpatterns = router.urls
