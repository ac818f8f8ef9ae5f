"""Deployments API: list, read and create deployments; list and read their targets.

Deployments are not edited or deleted here: cancelling and pausing come with the rollout engine.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from deployments_app.api.serializers import (
    DeploymentCreateSerializer,
    DeploymentSerializer,
    DeploymentTargetSerializer,
)
from deployments_app.filters import DeploymentFilterSet, DeploymentTargetFilterSet
from deployments_app.models import Deployment, DeploymentTarget
from flowgate_site.api.mixins import OrgScopedMixin
from flowgate_site.roles import Role


@extend_schema_view(
    create=extend_schema(
        request=DeploymentCreateSerializer,
        responses={201: DeploymentSerializer},
        description="Create a deployment; settings left out take the organization's defaults.",
    )
)
class DeploymentViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Deployments of the caller's organizations; creating one needs the editor role."""

    queryset = (
        Deployment.objects.with_progress()
        .select_related("organization", "template_version__template", "created_by")
        .prefetch_related("selector_tags", "selector_gateways")
        # Aggregation drops Meta.ordering: order explicitly, with a tie-breaker for paging.
        .order_by("-created_at", "-pk")
    )
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilterSet
    ordering_fields = ["created_at", "status", "strategy"]
    search_fields = ["template_version__template__name"]
    write_role = Role.EDITOR

    def get_serializer_class(self):
        if self.action == "create":
            return DeploymentCreateSerializer
        return DeploymentSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deployment = serializer.save()
        # Read back through the list queryset so the answer carries target_count and progress.
        created = self.get_queryset().get(pk=deployment.pk)
        data = DeploymentSerializer(created, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


deployment_pk = OpenApiParameter("deployment_pk", OpenApiTypes.UUID, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(parameters=[deployment_pk]),
    retrieve=extend_schema(parameters=[deployment_pk]),
)
class DeploymentTargetViewSet(OrgScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The targets of one deployment; another organization's deployment is 404."""

    queryset = DeploymentTarget.objects.select_related("gateway")
    serializer_class = DeploymentTargetSerializer
    filterset_class = DeploymentTargetFilterSet
    ordering_fields = ["batch", "status", "gateway__name"]
    search_fields = ["gateway__name"]
    read_only = True

    def get_deployment(self):
        deployments = Deployment.objects.for_user(self.request.user)
        return get_object_or_404(deployments, pk=self.kwargs["deployment_pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            # Schema generation: no request kwargs, no deployment.
            return DeploymentTarget.objects.none()
        return super().get_queryset().filter(deployment=self.get_deployment())
