"""Deployments API: list, read and create deployments, act on them (pause, resume, cancel, roll back);
list and read their targets; roll a template back to one of its versions.

Deployments are not edited or deleted: the rollout engine and the actions change them.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from core_app.api.mixins import OrgScopedMixin
from core_app.roles import Role
from deployments_app import actions
from deployments_app.api.serializers import (
    DeploymentCreateSerializer,
    DeploymentDetailSerializer,
    DeploymentSerializer,
    DeploymentSettingsSerializer,
    DeploymentTargetSerializer,
)
from deployments_app.filters import DeploymentFilterSet, DeploymentTargetFilterSet
from deployments_app.models import Deployment, DeploymentTarget
from templates_app.models import ConfigTemplate


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This action does not fit the object's current state."
    default_code = "conflict"


def action_schema(description):
    return extend_schema(
        request=None,
        description=description,
        responses={
            200: DeploymentDetailSerializer,
            409: OpenApiResponse(description="The deployment's status does not allow this action (message says why)."),
        },
    )


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
        if self.action == "list":
            return DeploymentSerializer
        return DeploymentDetailSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related("events")
        return queryset

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deployment = serializer.save()
        # Read back through the list queryset so the answer carries target_count and progress.
        created = self.get_queryset().get(pk=deployment.pk)
        data = DeploymentDetailSerializer(created, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    def _act(self, operation):
        """Run an operator action (deployments_app.actions) on the deployment of the URL."""
        deployment = self.get_object()  # 404 for other organizations; 403 below the editor role
        try:
            operation(deployment.pk, user=self.request.user, request=self.request)
        except actions.TransitionRefused as refused:
            raise Conflict(str(refused)) from None
        data = DeploymentDetailSerializer(self.get_queryset().get(pk=deployment.pk)).data
        return Response(data)

    @action_schema("Stop sending new batches until resumed (rolling-out deployments only).")
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._act(actions.pause)

    @action_schema("Go on rolling out a paused deployment.")
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._act(actions.resume)

    @action_schema("Send nothing more; targets waiting for an offline gateway get their previous config back.")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(actions.cancel)

    @action_schema(
        "Roll back now: the targets this deployment changed that had a previous config get it back "
        "(status rolling_back until their gateways apply it); 409 when none had one."
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return self._act(actions.roll_back)


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


@extend_schema(
    parameters=[
        OpenApiParameter("template_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The version to go back to."),
    ],
    request=DeploymentSettingsSerializer,
    responses={
        201: DeploymentDetailSerializer,
        404: OpenApiResponse(description="No such template or version."),
        409: OpenApiResponse(description="No gateway runs another version of this template."),
    },
    description=(
        "Roll a template back to version N: a new deployment of that version to the gateways whose desired "
        "config is currently another version of this template. Settings left out take the organization's defaults."
    ),
)
class TemplateRollbackViewSet(viewsets.GenericViewSet):
    """POST /templates/{template_id}/versions/{number}/rollback/ (needs the editor role in the template's org)."""

    serializer_class = DeploymentSettingsSerializer
    queryset = Deployment.objects.none()
    write_role = Role.EDITOR

    def create(self, request, template_id=None, number=None):
        templates = ConfigTemplate.objects.for_user(request.user).select_related("organization")
        template = get_object_or_404(templates, pk=template_id)
        self.check_object_permissions(request, template)
        version = get_object_or_404(template.versions.select_related("template__organization"), number=number)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            deployment = actions.roll_back_to_version(
                version, user=request.user, request=request, **serializer.validated_data
            )
        except actions.TransitionRefused as refused:
            raise Conflict(str(refused)) from None
        queryset = Deployment.objects.with_progress().prefetch_related("events")
        data = DeploymentDetailSerializer(queryset.get(pk=deployment.pk)).data
        return Response(data, status=status.HTTP_201_CREATED)
