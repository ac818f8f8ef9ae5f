"""`POST /api/v1/gateways/register`: a gateway trades a registration token for an OpAMP token.

The view has its own authentication (the registration JWT in `Authorization: Bearer …`);
user sessions and API tokens play no part.
"""

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import get_authorization_header
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core_app.api.mixins import StrictFieldsMixin
from core_app.api.parsers import JSONParser
from core_app.api.throttling import EnrollmentThrottle
from core_app.audit import client_ip
from core_app.services import get_org_settings
from gateways_app import enrollment, tokens
from gateways_app.api.serializers import InstanceUidField, TagListField
from gateways_app.models import GatewayMode


class EnrollmentSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Unique in the organization; re-enrolls if it exists.")
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    mode = serializers.ChoiceField(choices=GatewayMode.choices, default=GatewayMode.SUPERVISOR)
    instance_uid = InstanceUidField(
        required=False, allow_null=True, default=None, help_text="OpAMP instance_uid (32 hex characters or a UUID)."
    )
    tags = TagListField(required=False, default=list)
    agent_type = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    agent_version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class OpAMPEndpointsSerializer(serializers.Serializer):
    ws = serializers.CharField(help_text="WebSocket OpAMP endpoint (ws:// or wss://).")
    http = serializers.CharField(help_text="Plain-HTTP OpAMP endpoint (http:// or https://).")


class EnrollmentResponseSerializer(serializers.Serializer):
    gateway_id = serializers.UUIDField()
    organization = serializers.CharField(help_text="Organization slug.")
    name = serializers.CharField()
    instance_uid = InstanceUidField(allow_null=True)
    opamp_token = serializers.CharField(help_text="The OpAMP JWT; shown only in this answer.")
    opamp_token_expires_at = serializers.DateTimeField()
    opamp_endpoints = OpAMPEndpointsSerializer()
    heartbeat_interval_seconds = serializers.IntegerField()


class EnrollmentErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


def public_base_url(request):
    """The portal's address as gateways reach it: FLOWGATE_PUBLIC_URL, else the request's host."""
    if settings.FLOWGATE_PUBLIC_URL:
        return settings.FLOWGATE_PUBLIC_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}"


def opamp_endpoints(request):
    """The OpAMP URLs a gateway connects to: WebSocket and plain HTTP, same path."""
    http = public_base_url(request) + settings.FLOWGATE_OPAMP_PATH
    scheme, rest = http.split("://", 1)
    ws_scheme = "wss" if scheme == "https" else "ws"
    return {"ws": f"{ws_scheme}://{rest}", "http": http}


def bearer_token(request):
    """The token of `Authorization: Bearer <token>`, or AuthenticationFailed."""
    parts = get_authorization_header(request).decode("latin-1").split()
    if not parts:
        raise exceptions.AuthenticationFailed("missing token")
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise exceptions.AuthenticationFailed("use 'Authorization: Bearer <registration token>'")
    return parts[1]


class EnrollmentView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [EnrollmentThrottle]  # per address (docs/security.md)
    parser_classes = [JSONParser]

    def get_authenticate_header(self, request):
        # Makes refusals 401 (with this challenge) rather than 403.
        return 'Bearer realm="flowgate"'

    @extend_schema(
        operation_id="gateways_register",
        summary="Enroll a gateway",
        description=(
            "Send `Authorization: Bearer <registration token>`. Creates the gateway (or re-enrolls the one "
            "with the same name or instance_uid, revoking its old OpAMP tokens) and answers with its OpAMP "
            "token, shown once."
        ),
        auth=[],
        request=EnrollmentSerializer,
        responses={
            201: EnrollmentResponseSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid body; the message names the field."),
            401: OpenApiResponse(
                EnrollmentErrorSerializer, description="Missing, forged, expired, revoked or used-up token."
            ),
            409: OpenApiResponse(EnrollmentErrorSerializer, description="Name or instance_uid clash."),
        },
        examples=[OpenApiExample("Supervisor", request_only=True, value={"name": "gw-1", "tags": ["env=prod"]})],
        tags=["gateways"],
    )
    def post(self, request):
        raw = bearer_token(request)
        # The token is checked before the body so that strangers learn nothing about the API.
        self._verify(raw)
        body = EnrollmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = enrollment.enroll(raw, ip=client_ip(request), **body.validated_data)
        except tokens.TokenError as error:
            raise exceptions.AuthenticationFailed(str(error))
        except enrollment.EnrollmentConflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        response = Response(self._answer(request, result), status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)  # the OpAMP token is shown once: no cache may keep it
        return response

    def _verify(self, raw):
        try:
            tokens.verify_registration_token(raw)
        except tokens.TokenError as error:
            raise exceptions.AuthenticationFailed(str(error))

    def _answer(self, request, result):
        gateway = result.gateway
        answer = {
            "gateway_id": gateway.pk,
            "organization": gateway.organization.slug,
            "name": gateway.name,
            "instance_uid": gateway.instance_uid,
            "opamp_token": result.opamp_jwt,
            "opamp_token_expires_at": result.opamp_token.expires_at,
            "opamp_endpoints": opamp_endpoints(request),
            "heartbeat_interval_seconds": get_org_settings(gateway.organization).heartbeat_interval_seconds,
        }
        return EnrollmentResponseSerializer(answer).data
