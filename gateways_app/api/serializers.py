"""Serializers of gateways, registration tokens and tags."""

import re
import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core_app.api.mixins import OrgOwnedSerializer
from gateways_app.models import (
    HEAVY_REPORTED_FIELDS,
    REPORTED_FIELDS,
    Gateway,
    GatewayStatus,
    RegistrationToken,
    Tag,
)
from gateways_app.services import parse_tag, resolve_tags

TAGS_HELP = 'Tags as "key=value" strings, e.g. ["env=prod", "region=eu-west-1"]; missing tags are created.'
REGISTRATION_STATES = ["active", "revoked", "expired", "used up"]
INSTANCE_UID_RE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class TagListField(serializers.ListField):
    """A list of "key=value" strings, validated like Tag rows; reads back a tag manager as strings."""

    child = serializers.CharField(max_length=127)

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", TAGS_HELP)
        kwargs.setdefault("max_length", 50)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        texts = super().to_internal_value(data)
        pairs = []
        for text in texts:
            try:
                pair = parse_tag(text)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages)
            if pair not in pairs:
                pairs.append(pair)
        return [f"{key}={value}" for key, value in pairs]

    def to_representation(self, value):
        items = value.all() if hasattr(value, "all") else value
        return [str(item) for item in items]


@extend_schema_field({"type": "string", "nullable": True, "example": "0123456789abcdef0123456789abcdef"})
class InstanceUidField(serializers.Field):
    """OpAMP's 16-byte instance_uid: 32 hex characters or UUID text in, 32 hex characters out."""

    default_error_messages = {
        "invalid": "Give the instance_uid as 32 hexadecimal characters or as a UUID.",
        "zero": "The instance_uid must not be all zeros.",
    }

    def to_internal_value(self, data):
        text = data.strip().lower() if isinstance(data, str) else ""
        if not INSTANCE_UID_RE.fullmatch(text):
            self.fail("invalid")
        value = uuid.UUID(text)
        if value.int == 0:
            self.fail("zero")
        return value

    def to_representation(self, value):
        return value.hex if value is not None else None


class GatewaySerializer(OrgOwnedSerializer):
    """A gateway. Only `name` and `tags` are writable; the rest is reported by the gateway."""

    tags = TagListField(required=False)
    instance_uid = InstanceUidField(read_only=True)
    status = serializers.ChoiceField(
        choices=GatewayStatus.choices,
        source="shown_status",
        read_only=True,
        help_text="degraded when OpAMP health (opamp_status) or the collector's own metrics (metrics_problem) say so.",
    )
    opamp_status = serializers.CharField(
        source="status", read_only=True, help_text="online, degraded or offline as the OpAMP connection and health say."
    )

    class Meta:
        model = Gateway
        fields = [
            "id",
            "organization",
            "name",
            "hostname",
            "mode",
            "instance_uid",
            "tags",
            "opamp_status",
            *(name for name in REPORTED_FIELDS if name not in ("instance_uid", "hostname", "mode")),
        ]
        read_only_fields = [name for name in fields if name not in ("name", "tags", "organization")]
        # Name uniqueness is checked in validate_name (with a message), not by generated validators.
        validators = []

    def validate_name(self, value):
        org = getattr(self.instance, "organization", None)
        clash = Gateway.objects.for_org(org).filter(name=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if org is not None and clash.exists():
            raise serializers.ValidationError("A gateway with this name already exists in the organization.")
        return value

    def update(self, instance, validated_data):
        if "tags" in validated_data:
            validated_data["tags"] = resolve_tags(instance.organization, validated_data["tags"])
        return super().update(instance, validated_data)


class GatewayListSerializer(GatewaySerializer):
    """A gateway in a list: without what it reported in bulk (HEAVY_REPORTED_FIELDS), which one agent
    could make megabytes long; GET gateways/{id}/ has them."""

    class Meta(GatewaySerializer.Meta):
        fields = [name for name in GatewaySerializer.Meta.fields if name not in HEAVY_REPORTED_FIELDS]
        read_only_fields = [
            name for name in GatewaySerializer.Meta.read_only_fields if name not in HEAVY_REPORTED_FIELDS
        ]


class RegistrationTokenSerializer(OrgOwnedSerializer):
    """A registration token. The JWT itself is never shown here (only once, on creation)."""

    state = serializers.ChoiceField(choices=REGISTRATION_STATES, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    tags = TagListField(required=False, help_text=TAGS_HELP + " Gateways enrolled with this token get them.")
    ttl_seconds = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=60,
        max_value=366 * 24 * 3600,
        help_text="Lifetime in seconds; defaults to the organization's registration token lifetime.",
    )

    class Meta:
        model = RegistrationToken
        fields = [
            "id",
            "organization",
            "name",
            "state",
            "uses",
            "max_uses",
            "expires_at",
            "revoked_at",
            "created_at",
            "created_by",
            "tags",
            "allow_re_enroll",
            "ttl_seconds",
        ]
        read_only_fields = ["uses", "expires_at", "revoked_at", "created_at"]
        extra_kwargs = {"max_uses": {"min_value": 1, "max_value": 100000}}


class RegistrationTokenCreatedSerializer(RegistrationTokenSerializer):
    """The answer to creating a registration token: the row plus the JWT, shown this once."""

    token = serializers.CharField(read_only=True, help_text="The registration JWT. It is not shown again.")

    class Meta(RegistrationTokenSerializer.Meta):
        fields = [*RegistrationTokenSerializer.Meta.fields, "token"]


class OpAMPTokenIssuedSerializer(serializers.Serializer):
    """A new OpAMP token of a gateway, shown once."""

    token_id = serializers.UUIDField(source="id")
    opamp_token = serializers.CharField(help_text="The OpAMP JWT. It is not shown again.")
    opamp_token_expires_at = serializers.DateTimeField(source="expires_at")
    rotated = serializers.BooleanField(
        help_text="True: the gateway's agent is offered this token over OpAMP and switches to it by itself; its "
        "old token works until it has or the grace period ends (old_token_valid_until). False: the old tokens are "
        "revoked; give the agent this token or re-enroll it."
    )
    old_token_valid_until = serializers.DateTimeField(allow_null=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class RevokedCountSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many live OpAMP tokens were revoked.")


class TagSerializer(OrgOwnedSerializer):
    """A key=value tag of an organization."""

    class Meta:
        model = Tag
        fields = ["id", "organization", "key", "value"]
        # Duplicates are checked in validate() with the model's message.
        validators = []

    def validate(self, attrs):
        attrs = super().validate(attrs)
        org = attrs.get("organization") or self.instance.organization
        key = attrs.get("key", getattr(self.instance, "key", None))
        value = attrs.get("value", getattr(self.instance, "value", ""))
        clash = Tag.objects.for_org(org).filter(key=key, value=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"key": f"The tag {key}={value} already exists in the organization."})
        return attrs
