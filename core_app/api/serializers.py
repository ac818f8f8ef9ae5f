from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core_app.api.mixins import StrictFieldsMixin
from core_app.models import AuditLog, Organization, OrgSettings


class OrganizationSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this organization.")

    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "role", "created_at"]

    def get_role(self, org) -> str | None:
        return org.role_of(self.context["request"].user)


class OrgSettingsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = OrgSettings
        fields = ["organization", *OrgSettings.EDITABLE_FIELDS, "updated_at"]
        extra_kwargs = {
            "default_batch_percent": {"max_value": 100},
            "default_canary_percent": {"max_value": 100},
            "default_failure_threshold_percent": {"max_value": 100},
        }

    def validate(self, attrs):
        """The rules across fields of OrgSettings.clean(), as the settings form and the admin apply them."""
        attrs = super().validate(attrs)
        row = OrgSettings()
        for name in OrgSettings.EDITABLE_FIELDS if self.instance is not None else ():
            setattr(row, name, getattr(self.instance, name))
        for name, value in attrs.items():
            setattr(row, name, value)
        try:
            row.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return attrs


class AuditLogSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "organization",
            "created_at",
            "actor_name",
            "actor_user",
            "actor_gateway_id",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "source_ip",
        ]
        read_only_fields = fields
