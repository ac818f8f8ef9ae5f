"""API of templates, their immutable versions and diffs between versions."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from core_app.api.mixins import AuditedMixin, OrgScopedMixin
from templates_app import services
from templates_app.api.serializers import (
    ConfigTemplateCreateSerializer,
    ConfigTemplateSerializer,
    TemplateDiffQuerySerializer,
    TemplateDiffSerializer,
    TemplateVersionListSerializer,
    TemplateVersionSerializer,
)
from templates_app.filters import ConfigTemplateFilterSet, TemplateVersionFilterSet
from templates_app.models import ConfigTemplate, TemplateVersion


@extend_schema_view(
    destroy=extend_schema(
        responses={204: None, 409: OpenApiResponse(description="A deployment uses one of its versions.")}
    )
)
class ConfigTemplateViewSet(OrgScopedMixin, AuditedMixin, viewsets.ModelViewSet):
    """Collector config templates. Creating one may also create its version 1."""

    queryset = ConfigTemplate.objects.select_related("organization", "created_by").with_version_stats()
    serializer_class = ConfigTemplateSerializer
    filterset_class = ConfigTemplateFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "type", "created_at", "updated_at", "version_count"]
    ordering = ["name", "id"]
    audit_name = "template"

    def get_serializer_class(self):
        if self.action == "create":
            return ConfigTemplateCreateSerializer
        return super().get_serializer_class()

    def _reload(self, serializer):
        # Fresh from the annotated queryset, so the answer shows current_version and version_count.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_create(self, serializer):
        serializer.save()  # services.create_template writes the audit entries
        self._reload(serializer)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        self._reload(serializer)

    @extend_schema(
        parameters=[TemplateDiffQuerySerializer],
        responses={
            200: TemplateDiffSerializer,
            400: OpenApiResponse(description="Missing or invalid version numbers."),
            404: OpenApiResponse(description="No such template or version."),
        },
    )
    @action(detail=True, methods=["get"], serializer_class=TemplateDiffSerializer, filter_backends=[])
    def diff(self, request, pk=None):
        """Unified diff between two versions of the template: ?from=N&to=M."""
        template = self.get_object()
        query = TemplateDiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        numbers = query.validated_data
        versions = {version.number: version for version in template.versions.filter(number__in=numbers.values())}
        for key in ("from", "to"):
            if numbers[key] not in versions:
                raise NotFound(f"Version {numbers[key]} of this template does not exist ('{key}').")
        diff = services.diff_versions(versions[numbers["from"]], versions[numbers["to"]])
        return Response({"template": template.pk, "from": numbers["from"], "to": numbers["to"], "diff": diff})


@extend_schema(parameters=[OpenApiParameter("template_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
class TemplateVersionViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Versions of one template, addressed by number. Immutable: create, list and read only."""

    queryset = TemplateVersion.objects.select_related("template", "author")
    filterset_class = TemplateVersionFilterSet
    search_fields = ["change_summary"]
    ordering_fields = ["number", "created_at"]
    ordering = ["-number"]
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"

    def get_template(self):
        """The template of the URL, looked up among the caller's organizations (else 404)."""
        if not hasattr(self, "_template"):
            templates = ConfigTemplate.objects.for_user(self.request.user).select_related("organization")
            self._template = get_object_or_404(templates, pk=self.kwargs["template_id"])
        return self._template

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TemplateVersion.objects.none()
        return super().get_queryset().filter(template=self.get_template())

    def get_serializer_class(self):
        return TemplateVersionListSerializer if self.action == "list" else TemplateVersionSerializer

    def create(self, request, *args, **kwargs):
        # The write role is needed in the template's own organization, not just in some organization.
        self.check_object_permissions(request, self.get_template())
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.save(template=self.get_template())  # services.create_version audits it
