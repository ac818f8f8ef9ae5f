"""`POST /api/v1/gateways/{id}/heartbeat`: extension-mode supervisors say they are alive.

Authenticated by the gateway's own OpAMP token (`Authorization: Bearer …`), not by a user:
a token of another gateway gets 404, as if the gateway did not exist.
"""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core_app.api.mixins import StrictFieldsMixin
from core_app.api.parsers import JSONParser
from core_app.api.throttling import GatewayPollThrottle
from core_app.services import get_org_settings
from gateways_app import services, tokens
from gateways_app.api.enrollment import EnrollmentErrorSerializer, bearer_token


class HeartbeatSerializer(StrictFieldsMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=[(value, value) for value in services.HEARTBEAT_STATUSES])
    version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    uptime_seconds = serializers.IntegerField(min_value=0, required=False, default=0)
    config_hash = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        required=False,
        allow_blank=True,
        default="",
        help_text="SHA-256 (hex) of the collector's config file.",
        error_messages={"invalid": "Give the SHA-256 of the config as 64 lower-case hex characters."},
    )


class HeartbeatResponseSerializer(serializers.Serializer):
    gateway_id = serializers.UUIDField()
    status = serializers.CharField()
    last_seen = serializers.DateTimeField()
    heartbeat_interval_seconds = serializers.IntegerField(help_text="Send the next heartbeat after this many seconds.")


class HeartbeatView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [GatewayPollThrottle]  # per address (docs/security.md)
    parser_classes = [JSONParser]

    def get_authenticate_header(self, request):
        return 'Bearer realm="flowgate"'

    @extend_schema(
        operation_id="gateways_heartbeat",
        summary="Heartbeat of an extension-mode gateway",
        description=(
            "Send `Authorization: Bearer <the gateway's OpAMP token>`. Updates last_seen, status and the "
            "`heartbeat` component of the gateway's health."
        ),
        auth=[],
        request=HeartbeatSerializer,
        responses={
            200: HeartbeatResponseSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid body; the message names the field."),
            401: OpenApiResponse(EnrollmentErrorSerializer, description="Missing, expired or revoked token."),
            404: OpenApiResponse(EnrollmentErrorSerializer, description="The token belongs to another gateway."),
        },
        tags=["gateways"],
    )
    def post(self, request, pk):
        try:
            row = tokens.verify_opamp_token(bearer_token(request))
        except tokens.TokenError as error:
            raise exceptions.AuthenticationFailed(str(error))
        if row.gateway_id != uuid.UUID(pk):
            raise exceptions.NotFound()
        body = HeartbeatSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        gateway = services.record_heartbeat(row.gateway, **body.validated_data)
        answer = {
            "gateway_id": gateway.pk,
            "status": gateway.status,
            "last_seen": gateway.last_seen,
            "heartbeat_interval_seconds": get_org_settings(gateway.organization).heartbeat_interval_seconds,
        }
        return Response(HeartbeatResponseSerializer(answer).data)
