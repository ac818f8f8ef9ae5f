"""List filters of gateways and tags, shared by the API and the pages."""

import django_filters
from django import forms
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from gateways_app.models import Gateway, GatewayMode, GatewayStatus, RemoteConfigStatus, Tag
from gateways_app.services import parse_tag


class TagPairsField(forms.Field):
    """Every `?tag=key=value` of the query string, as (key, value) pairs."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        return [parse_tag(text) for text in value]


@extend_schema_field({"type": "array", "items": {"type": "string", "example": "env=prod"}})
class TagFilter(django_filters.Filter):
    """Gateways carrying every given tag (`?tag=env=prod&tag=region=eu`: both)."""

    field_class = TagPairsField

    def filter(self, qs, value):
        # One join per tag: a gateway must match each of them, not any.
        for key, tag_value in value or []:
            qs = qs.filter(tags__key=key, tags__value=tag_value)
        return qs


class GatewayFilterSet(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="Organization slug.")
    status = django_filters.ChoiceFilter(
        choices=GatewayStatus.choices,
        method="filter_status",
        help_text="The shown status: degraded when OpAMP health or the collector's own metrics say so.",
    )
    mode = django_filters.ChoiceFilter(choices=GatewayMode.choices)
    remote_config_status = django_filters.ChoiceFilter(choices=RemoteConfigStatus.choices)
    tag = TagFilter(help_text='"key=value"; repeat to require several tags.')
    search = django_filters.CharFilter(method="filter_search", help_text="Part of the name or hostname.")
    ordering = django_filters.OrderingFilter(fields=("name", "last_seen"))

    class Meta:
        model = Gateway
        fields = ["organization", "status", "mode", "remote_config_status", "tag", "search"]

    def filter_status(self, queryset, name, value):
        return queryset.with_shown_status(value)

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(hostname__icontains=value))


class TagFilterSet(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="Organization slug.")

    class Meta:
        model = Tag
        fields = ["organization", "key", "value"]
