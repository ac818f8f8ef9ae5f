"""List filters of the templates app, shared by the API and pages."""

import django_filters

from templates_app.models import ConfigTemplate, TemplateType, TemplateVersion


class ConfigTemplateFilterSet(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=TemplateType.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="Organization slug.")

    class Meta:
        model = ConfigTemplate
        fields = ["type", "name", "organization"]


class TemplateVersionFilterSet(django_filters.FilterSet):
    author = django_filters.CharFilter(field_name="author__username", help_text="Author's username.")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = TemplateVersion
        fields = ["author", "created_after", "created_before"]
