"""List filters of the core, shared by the API and pages."""

import django_filters

from core_app.models import AuditLog


class AuditLogFilterSet(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug")
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact")
    action = django_filters.CharFilter(lookup_expr="startswith")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditLog
        fields = ["organization", "actor", "action", "object_type", "object_id", "created_after", "created_before"]
