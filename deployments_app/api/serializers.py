"""Deployment serializers: one shape to read, one to create (deployments are not edited)."""

from rest_framework import serializers

from core_app.api.mixins import OrgOwnedSerializer, StrictFieldsMixin, scoped_related
from deployments_app import services, target_check
from deployments_app.models import Deployment, DeploymentEvent, DeploymentTarget, EventKind
from gateways_app.models import Gateway
from gateways_app.selection import find_tags
from templates_app.models import TemplateVersion


class DeploymentProgressSerializer(serializers.Serializer):
    """Targets per status (from DeploymentQuerySet.with_progress()).

    `rolled_back` (their gateway applied their previous config again) and `returning` (given it
    back, not applied yet) overlap the status counts: a rollback does not change a target's status.
    """

    pending = serializers.IntegerField(source="progress_pending", read_only=True)
    sent = serializers.IntegerField(source="progress_sent", read_only=True)
    applied = serializers.IntegerField(source="progress_applied", read_only=True)
    failed = serializers.IntegerField(source="progress_failed", read_only=True)
    rolled_back = serializers.IntegerField(source="progress_rolled_back", read_only=True)
    returning = serializers.IntegerField(source="progress_returning", read_only=True)


class DeploymentSerializer(serializers.ModelSerializer):
    """A deployment as read. The queryset must come from `Deployment.objects.with_progress()`."""

    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    template = serializers.UUIDField(source="template_version.template_id", read_only=True)
    template_name = serializers.CharField(source="template_version.template.name", read_only=True)
    template_version_number = serializers.IntegerField(source="template_version.number", read_only=True)
    selector_tags = serializers.StringRelatedField(many=True, read_only=True, help_text='"key=value" labels.')
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    target_count = serializers.IntegerField(read_only=True)
    progress = DeploymentProgressSerializer(source="*", read_only=True)
    waiting_offline = serializers.IntegerField(
        read_only=True, help_text="Targets of the batches sent so far that wait for their gateway to connect."
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "organization",
            "template",
            "template_name",
            "template_version",
            "template_version_number",
            "selector_tags",
            "selector_gateways",
            *services.PARAM_FIELDS,  # the rollout settings
            "status",
            "outcome",
            "forced",
            "target_count",
            "progress",
            "waiting_offline",
            "current_batch",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class BatchProgressSerializer(serializers.Serializer):
    """One batch: its state and its targets per status (from Deployment.batch_progress())."""

    batch = serializers.IntegerField(help_text="0 is the canary or first batch.")
    label = serializers.CharField(help_text='As the pages and the timeline name it: "Canary", "Batch 1"…')
    state = serializers.CharField(
        help_text="not_started, in_progress (sent, gate not passed yet), passed, or stopped (sent, but the "
        "deployment ended before its gate passed)."
    )
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    sent = serializers.IntegerField()
    applied = serializers.IntegerField()
    failed = serializers.IntegerField()
    rolled_back = serializers.IntegerField(help_text="Targets whose gateway applied their previous config again.")
    returning = serializers.IntegerField(help_text="Targets given their previous config back, not applied yet.")
    waiting_offline = serializers.IntegerField()


class DeploymentEventSerializer(serializers.ModelSerializer):
    """One entry of a deployment's timeline."""

    kind = serializers.ChoiceField(choices=EventKind.choices)

    class Meta:
        model = DeploymentEvent
        fields = ["created_at", "kind", "message", "count", "data"]
        read_only_fields = fields


class DeploymentDetailSerializer(DeploymentSerializer):
    """A deployment with its progress per batch and its timeline."""

    batches = BatchProgressSerializer(source="batch_progress", many=True, read_only=True)
    events = DeploymentEventSerializer(many=True, read_only=True)
    validation = serializers.JSONField(
        read_only=True,
        help_text="The latest check against the targets: ok, checked, missing (per gateway: gateway, gateway_name, "
        "missing components), unreported (gateways checked against the catalogue only), errors, deep_check.",
    )

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "validation", "validated_at", "batches", "events"]
        read_only_fields = fields


class DeploymentSettingsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Optional deployment settings (POST .../versions/{number}/rollback/); left out: the org's defaults."""

    class Meta:
        model = Deployment
        fields = list(services.PARAM_FIELDS)
        extra_kwargs = {name: {"required": False} for name in services.PARAM_FIELDS}


class DeploymentCreateSerializer(OrgOwnedSerializer):
    """The body of POST /deployments/.

    Settings left out take the organization's defaults; their rules are checked by the service.
    """

    template_version = scoped_related(TemplateVersion, serializers.PrimaryKeyRelatedField)
    selector_tags = serializers.ListField(
        child=serializers.CharField(max_length=130),
        required=False,
        help_text='Tags written as "key=value"; a gateway must carry all of them.',
    )
    selector_gateways = scoped_related(
        Gateway,
        serializers.PrimaryKeyRelatedField,
        many=True,
        required=False,
        help_text="Gateways (ids) targeted whatever their tags.",
    )
    force = serializers.BooleanField(
        default=False,
        help_text="Deploy even to targets lacking components the version uses (admins and owners; audited). "
        "Without it such a request is refused with the list of gateways and their missing components.",
    )

    class Meta:
        model = Deployment
        fields = [
            "organization",
            "template_version",
            "selector_tags",
            "selector_gateways",
            *services.PARAM_FIELDS,
            "force",
        ]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        # Tags are looked up in the deployment's organization, known only now.
        attrs["selector_tags"] = find_tags(attrs["organization"], attrs.get("selector_tags", []))
        return attrs

    def create(self, validated_data):
        try:
            return services.create_deployment(
                validated_data.pop("organization"),
                user=self.context["request"].user,
                request=self.context["request"],
                **validated_data,
            )
        except target_check.TargetsRefused as refused:
            # 400 with the details a client can act on: which gateway lacks which components.
            raise serializers.ValidationError(
                {
                    "targets": refused.messages[:1],
                    "missing_components": refused.check.missing,
                    "unreported": refused.check.unreported,
                }
            ) from None


class DeploymentTargetSerializer(serializers.ModelSerializer):
    gateway_name = serializers.CharField(source="gateway.name", read_only=True)

    class Meta:
        model = DeploymentTarget
        fields = [
            "id",
            "deployment",
            "gateway",
            "gateway_name",
            "status",
            "batch",
            "error",
            "previous_config_hash",
            "sent_at",
            "applied_at",
            "rollback",
            "rollback_error",
            "rollback_sent_at",
        ]
        read_only_fields = fields
