"""Serializers of templates and template versions. Writes go through templates_app.services."""

from rest_framework import serializers

from core_app.api.mixins import OrgOwnedSerializer, StrictFieldsMixin
from templates_app import collector_check, services
from templates_app.models import ConfigTemplate, TemplateVersion, ValidationState


class ConfigTemplateSerializer(OrgOwnedSerializer):
    """A template. Its versions are added through its versions endpoint."""

    current_version = serializers.IntegerField(
        source="current_version_number",
        read_only=True,
        allow_null=True,
        help_text="Highest deployable version number (valid, valid with warnings, or validated before validation "
        "existed): what a new deployment would use. An invalid version, or one still being checked, is never current.",
    )
    latest_version = serializers.IntegerField(
        source="latest_version_number",
        read_only=True,
        allow_null=True,
        help_text="Highest version number, whatever its validation state.",
    )
    version_count = serializers.IntegerField(read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Username of the creator."
    )

    class Meta:
        model = ConfigTemplate
        fields = [
            "id",
            "organization",
            "name",
            "type",
            "description",
            "current_version",
            "latest_version",
            "version_count",
            "created_by",
            "created_at",
            "updated_at",
        ]
        # The name's uniqueness is checked by services.save_template, which names the field.
        validators = []

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        # Errors of the services (duplicate name, YAML) are Django ValidationErrors naming the
        # field; the API's exception handler answers them with a 400.
        return services.save_template(instance)


class ConfigTemplateCreateSerializer(ConfigTemplateSerializer):
    """A new template; `config_yaml` (and `change_summary`), when given, become its version 1."""

    config_yaml = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, help_text="Optional: becomes version 1."
    )
    change_summary = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)

    class Meta(ConfigTemplateSerializer.Meta):
        fields = ConfigTemplateSerializer.Meta.fields + ["config_yaml", "change_summary"]

    def create(self, validated_data):
        request = self.context["request"]
        return services.create_template(
            validated_data.pop("organization"), author=request.user, request=request, **validated_data
        )


class ValidationMessageSerializer(serializers.Serializer):
    """One validation error or warning."""

    code = serializers.CharField(
        help_text="The rule: yaml.syntax, yaml.aliases, structure.pipeline_exporters, component.unavailable, ..."
    )
    message = serializers.CharField()
    path = serializers.CharField(
        allow_blank=True, help_text="Where, e.g. service.pipelines.logs.exporters[0]; empty: the whole document."
    )
    line = serializers.IntegerField(allow_null=True, help_text="1-based; null when not known.")
    column = serializers.IntegerField(allow_null=True, help_text="1-based; null when not known.")


class TemplateVersionListSerializer(serializers.ModelSerializer):
    """A version without its YAML (lists stay small)."""

    template = serializers.PrimaryKeyRelatedField(read_only=True)
    author = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Username of the author."
    )
    validation_state = serializers.ChoiceField(
        choices=ValidationState.choices,
        read_only=True,
        help_text="checking: the collector's deep check is still running (the state changes when it ends). "
        "An invalid version, or one being checked, cannot be deployed.",
    )
    deployable = serializers.BooleanField(
        source="is_deployable", read_only=True, help_text="Whether a deployment may use this version now."
    )

    class Meta:
        model = TemplateVersion
        fields = [
            "id",
            "template",
            "number",
            "sha256",
            "change_summary",
            "validation_state",
            "deployable",
            "author",
            "created_at",
        ]
        read_only_fields = fields


class TemplateVersionSerializer(StrictFieldsMixin, TemplateVersionListSerializer):
    """A version with its YAML and validation results. Only `config_yaml` and `change_summary` are
    written, once. YAML that cannot be loaded is a 400; a config that loads but fails validation is
    saved with its errors (validation_state "invalid") and cannot be deployed.
    """

    validation_errors = ValidationMessageSerializer(many=True, read_only=True)
    validation_warnings = ValidationMessageSerializer(many=True, read_only=True)

    class Meta(TemplateVersionListSerializer.Meta):
        fields = TemplateVersionListSerializer.Meta.fields + [
            "validation_errors",
            "validation_warnings",
            "validated_at",
            "config_yaml",
        ]
        read_only_fields = ["id", "template", "number", "sha256", "deployable", "author", "created_at", "validated_at"]
        extra_kwargs = {"config_yaml": {"trim_whitespace": False}}

    def create(self, validated_data):
        request = self.context["request"]
        return services.create_version(
            validated_data["template"],
            config_yaml=validated_data["config_yaml"],
            change_summary=validated_data.get("change_summary", ""),
            author=request.user,
            request=request,
        )


class TemplateDiffQuerySerializer(serializers.Serializer):
    """The `from` and `to` query parameters of the diff endpoint."""

    def get_fields(self):
        return {
            "from": serializers.IntegerField(min_value=1, help_text="Version number to compare from."),
            "to": serializers.IntegerField(min_value=1, help_text="Version number to compare to."),
        }


class TemplateDiffSerializer(serializers.Serializer):
    """A unified diff between two versions of a template."""

    def get_fields(self):
        return {
            "template": serializers.UUIDField(),
            "from": serializers.IntegerField(),
            "to": serializers.IntegerField(),
            "diff": serializers.CharField(help_text="Unified diff; empty when the versions are identical."),
        }


class DeepCheckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=collector_check.STATUSES,
        help_text="not_requested, skipped, unavailable (no binary), passed, failed or timed_out.",
    )
    message = serializers.CharField(allow_blank=True, help_text="The collector's own message when it ran.")


class ValidationResultSerializer(serializers.Serializer):
    """The answer of POST /validation."""

    valid = serializers.BooleanField(help_text="True when there is no error (warnings allowed).")
    validation_state = serializers.ChoiceField(
        choices=ValidationState.choices, help_text="valid, warnings or invalid (as stored on a version)."
    )
    errors = ValidationMessageSerializer(many=True)
    warnings = ValidationMessageSerializer(many=True)
    components = serializers.CharField(help_text="What the component types were checked against.")
    deep_check = DeepCheckSerializer()
