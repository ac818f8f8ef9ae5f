from rest_framework import mixins, viewsets

from core_app.api.mixins import AuditedMixin, OrgScopedMixin
from core_app.api.serializers import AuditLogSerializer, OrganizationSerializer, OrgSettingsSerializer
from core_app.filters import AuditLogFilterSet
from core_app.models import AuditLog, Organization, OrgSettings
from core_app.roles import Role


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    """The organizations you belong to, with your role in each."""

    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    lookup_field = "slug"
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "slug", "created_at"]

    def get_queryset(self):
        return super().get_queryset().for_user(self.request.user)


class OrgSettingsViewSet(
    OrgScopedMixin,
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Per-organization settings, addressed by the organization's slug. Admins and owners may change them."""

    queryset = OrgSettings.objects.select_related("organization")
    serializer_class = OrgSettingsSerializer
    lookup_field = "organization__slug"
    lookup_url_kwarg = "slug"
    write_role = Role.ADMIN
    audit_name = "settings"
    ordering_fields = ["organization__name"]


class AuditLogViewSet(OrgScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The append-only audit trail: who did what, when, from where."""

    queryset = AuditLog.objects.select_related("organization")
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilterSet
    search_fields = ["actor_name", "action", "object_repr"]
    ordering_fields = ["created_at", "action"]
