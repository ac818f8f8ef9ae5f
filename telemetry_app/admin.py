"""Admin of telemetry credentials: read-only (the secret is never shown), with a rotate action."""

from django.contrib import admin

from core_app.admin_mixins import OrgScopedAdminMixin
from core_app.roles import Role
from telemetry_app import credentials
from telemetry_app.models import TelemetryCredential


@admin.register(TelemetryCredential)
class TelemetryCredentialAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Credentials are issued when first offered to their gateway; here they are listed and rotated."""

    write_role = Role.ADMIN
    list_display = ["__str__", "gateway", "organization", "created_at", "replaced_at"]
    list_filter = ["organization"]
    search_fields = ["gateway__name", "prefix"]
    readonly_fields = ["gateway", "organization", "prefix", "created_at", "replaced_at"]
    exclude = ["seed", "digest"]
    actions = ["rotate"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("gateway", "organization")

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_write_permission(self, request):
        return OrgScopedAdminMixin.has_change_permission(self, request)

    @admin.action(description="Rotate (the old credential works for the grace period)", permissions=["write"])
    def rotate(self, request, queryset):
        allowed = TelemetryCredential.objects.for_user(request.user, min_role=self.write_role)
        rows = queryset.filter(pk__in=allowed.values("pk"), replaced_at__isnull=True).select_related("gateway")
        gateways = {row.gateway_id: row.gateway for row in rows}
        for gateway in gateways.values():
            credentials.rotate(gateway, user=request.user)
        self.message_user(request, f"{len(gateways)} telemetry credential(s) rotated.")
