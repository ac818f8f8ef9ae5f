"""Collector config templates and their immutable, numbered versions."""

import hashlib
import uuid

from django.conf import settings
from django.db import models

from flowgate_site.models import OrgOwnedModel
from flowgate_site.querysets import child_queryset
from templates_app.querysets import ConfigTemplateQuerySet


class TemplateType(models.TextChoices):
    METRICS = "metrics", "Metrics"
    LOGS = "logs", "Logs"
    TRACES = "traces", "Traces"
    ROUTING = "routing", "Routing"
    FULL = "full", "Full"


class ConfigTemplate(OrgOwnedModel):
    """A named collector configuration that evolves through versions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=TemplateType.choices, default=TemplateType.FULL)
    description = models.TextField(blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConfigTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="%(app_label)s_%(class)s_unique_name",
                violation_error_message="A template with this name already exists in the organization.",
            )
        ]

    def __str__(self):
        return self.name

    def current_version(self):
        """The highest-numbered version, or None."""
        return self.versions.order_by("-number").first()


class TemplateVersionQuerySet(child_queryset("template__organization")):
    def update(self, **kwargs):
        raise TypeError("Template versions are immutable.")


def sha256_of(text):
    return hashlib.sha256(text.encode()).hexdigest()


class TemplateVersion(models.Model):
    """One immutable revision of a template's collector YAML, numbered 1, 2, 3… per template."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(ConfigTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(editable=False)
    config_yaml = models.TextField()
    sha256 = models.CharField(max_length=64, editable=False)
    change_summary = models.CharField(max_length=500, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TemplateVersionQuerySet.as_manager()

    class Meta:
        ordering = ["template__name", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"],
                name="%(app_label)s_%(class)s_unique_number",
                violation_error_message="This version number already exists for the template.",
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1),
                name="%(app_label)s_%(class)s_number_positive",
            ),
        ]

    def __str__(self):
        return f"{self.template.name} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Template versions are immutable; create a new version instead.")
        self.sha256 = sha256_of(self.config_yaml)
        super().save(*args, **kwargs)

    @property
    def organization(self):
        return self.template.organization
