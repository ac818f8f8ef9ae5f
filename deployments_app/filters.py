"""List filters for deployments and their targets, shared by the API and the pages."""

import django_filters

from core_app.models import Strategy
from deployments_app.models import Deployment, DeploymentStatus, DeploymentTarget, TargetStatus


class DeploymentFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DeploymentStatus.choices)
    strategy = django_filters.MultipleChoiceFilter(choices=Strategy.choices)
    template = django_filters.UUIDFilter(field_name="template_version__template", label="Template (id)")
    template_version = django_filters.UUIDFilter(field_name="template_version", label="Template version (id)")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    organization = django_filters.CharFilter(field_name="organization__slug", label="Organization (slug)")

    class Meta:
        model = Deployment
        fields = ["status", "strategy", "template", "template_version", "created_after", "created_before"]


class DeploymentTargetFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=TargetStatus.choices)
    gateway = django_filters.UUIDFilter(field_name="gateway", label="Gateway (id)")
    batch = django_filters.NumberFilter(field_name="batch")

    class Meta:
        model = DeploymentTarget
        fields = ["status", "gateway", "batch"]
