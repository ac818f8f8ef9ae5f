"""API of gateways, registration tokens and tags. Gateways themselves come from enrollment."""

from django.db import transaction
from django.utils.cache import add_never_cache_headers
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core_app.api.mixins import AuditedMixin, OrgScopedMixin
from core_app.roles import Role
from gateways_app import rotation, services
from gateways_app.api.serializers import (
    DetailSerializer,
    GatewayListSerializer,
    GatewaySerializer,
    OpAMPTokenIssuedSerializer,
    RegistrationTokenCreatedSerializer,
    RegistrationTokenSerializer,
    RevokedCountSerializer,
    TagSerializer,
)
from gateways_app.filters import GatewayFilterSet, TagFilterSet
from gateways_app.models import HEAVY_REPORTED_FIELDS, Gateway, RegistrationToken, Tag

UUID_REGEX = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def _secret(response):
    """An answer that shows a secret once: Cache-Control: no-store, so that no cache keeps it."""
    add_never_cache_headers(response)
    return response


class GatewayViewSet(
    OrgScopedMixin,
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Gateways of your organizations. They are created by enrollment, not by POST."""

    queryset = Gateway.objects.select_related("organization").prefetch_related("tags")
    serializer_class = GatewaySerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = GatewayFilterSet
    lookup_value_regex = UUID_REGEX
    write_role = Role.ADMIN
    audit_name = "gateway"

    def get_queryset(self):
        rows = super().get_queryset()
        if self.action == "list":
            return rows.defer(*HEAVY_REPORTED_FIELDS)  # not even read: one agent may report megabytes
        return rows

    def get_serializer_class(self):
        return GatewayListSerializer if self.action == "list" else super().get_serializer_class()

    @extend_schema(request=None, responses=RevokedCountSerializer)
    @action(detail=True, methods=["post"], url_path="revoke-token")
    def revoke_token(self, request, pk=None):
        """Revoke every OpAMP token of the gateway: it is cut off until re-enrolled or re-issued a token."""
        count = services.revoke_opamp_tokens(self.get_object(), request.user)
        return Response(RevokedCountSerializer({"revoked": count}).data)

    @extend_schema(request=None, responses=OpAMPTokenIssuedSerializer)
    @action(detail=True, methods=["post"], url_path="reissue-token")
    def reissue_token(self, request, pk=None):
        """Issue a new OpAMP token, shown in this answer only.

        A gateway whose agent accepts OpAMP connection settings is offered it over OpAMP and keeps
        its old token until it uses the new one (or the grace period ends); any other gateway's old
        tokens are revoked at once.
        """
        gateway = self.get_object()
        row, raw, rotated = rotation.reissue(gateway, request.user)
        row.opamp_token, row.rotated = raw, rotated
        row.old_token_valid_until = rotation.grace_end(gateway) if rotated else None
        return _secret(Response(OpAMPTokenIssuedSerializer(row).data))

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(DetailSerializer, description="The Restart command is on its way to the agent."),
            409: OpenApiResponse(DetailSerializer, description="The agent cannot be restarted (message says why)."),
        },
    )
    @action(detail=True, methods=["post"])
    def restart(self, request, pk=None):
        """Restart the gateway's collector (OpAMP Restart command); needs AcceptsRestartCommand."""
        try:
            services.request_restart(self.get_object(), request.user, request=request)
        except services.RestartRefused as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response({"detail": "Restart requested."}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=GatewaySerializer)
    @action(detail=True, methods=["post"], url_path="mark-offline")
    def mark_offline(self, request, pk=None):
        """Set the gateway's status to offline (its next OpAMP message sets it again)."""
        gateway = self.get_object()
        services.mark_offline([gateway], request.user)
        return Response(self.get_serializer(gateway).data)


class RegistrationTokenViewSet(
    OrgScopedMixin,
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Tokens that let new gateways enroll. The token itself is shown once, when created."""

    queryset = RegistrationToken.objects.select_related("organization", "created_by").prefetch_related("tags")
    serializer_class = RegistrationTokenSerializer
    filter_backends = []
    lookup_value_regex = UUID_REGEX
    write_role = Role.ADMIN
    audit_name = "registration_token"

    @extend_schema(responses={201: RegistrationTokenCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            row, raw = services.create_registration_token(
                data["organization"],
                name=data["name"],
                created_by=request.user,
                ttl=data.get("ttl_seconds"),
                max_uses=data.get("max_uses", 1),
                tags=data.get("tags", []),
                allow_re_enroll=data.get("allow_re_enroll", False),
            )
        row.token = raw
        answer = RegistrationTokenCreatedSerializer(row, context=self.get_serializer_context())
        return _secret(Response(answer.data, status=status.HTTP_201_CREATED))

    @extend_schema(request=None, responses=RegistrationTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke the token: gateways can no longer enroll with it (enrolled ones are not affected)."""
        row = services.revoke_registration_token(self.get_object(), request.user)
        return Response(self.get_serializer(row).data)


class TagViewSet(OrgScopedMixin, AuditedMixin, viewsets.ModelViewSet):
    """Tags (key=value) of your organizations, used to select gateways for deployments."""

    queryset = Tag.objects.select_related("organization")
    serializer_class = TagSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TagFilterSet
    lookup_value_regex = UUID_REGEX
    write_role = Role.EDITOR
    audit_name = "tag"
