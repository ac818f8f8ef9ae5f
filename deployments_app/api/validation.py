"""POST /validation: validate a collector config without saving anything, optionally against target gateways.

The same rules as saving a template version (templates_app.validation); with gateways or a tag
selector, the check a deployment to them would need: every target must have every component.
Here, in deployments_app, because it selects gateways the way deployments do (templates_app
stands beside gateways_app and imports none of it).
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core_app.api.mixins import OrgSlugField, StrictFieldsMixin, scoped_related
from gateways_app.models import Gateway
from gateways_app.selection import NO_TARGETS, find_tags, resolve_targets
from templates_app import validation
from templates_app.api.serializers import ValidationResultSerializer
from templates_app.models import TemplateType


class ValidationSerializer(StrictFieldsMixin, serializers.Serializer):
    """The body of POST /validation. Without gateways or selector_tags, components are checked
    against the upstream catalogue and what the organization's gateways reported; with them, every
    target must have every component.
    """

    config_yaml = serializers.CharField(trim_whitespace=False, allow_blank=True)
    organization = OrgSlugField(help_text="Slug; defaults to your only organization.")
    gateways = scoped_related(
        Gateway,
        serializers.PrimaryKeyRelatedField,
        many=True,
        required=False,
        pk_field=serializers.UUIDField(),
        help_text="Target gateways (ids) of the organization.",
    )
    selector_tags = serializers.ListField(
        child=serializers.CharField(max_length=130),
        required=False,
        help_text='Target the gateways carrying all these "key=value" tags.',
    )
    template_type = serializers.ChoiceField(
        choices=TemplateType.choices,
        default=TemplateType.FULL,
        help_text="Warns when a typed template lacks its pipeline.",
    )
    deep = serializers.BooleanField(default=False, help_text="Also run the configured collector's `validate`.")

    def validate(self, attrs):
        org = attrs["organization"]
        foreign = [str(gateway.pk) for gateway in attrs.get("gateways", []) if gateway.organization_id != org.pk]
        if foreign:
            raise serializers.ValidationError(
                {"gateways": f"Gateway {', '.join(foreign)} does not exist in organization {org.slug}."}
            )
        attrs["targets"] = self._targets(org, attrs)
        return attrs

    def _targets(self, org, attrs):
        """The target gateways, or None when the caller named none."""
        # The deployments' selector: same rules as POST /deployments.
        if "gateways" not in attrs and "selector_tags" not in attrs:
            return None
        tags = find_tags(org, attrs.get("selector_tags", []))
        targets = list(resolve_targets(org, tags=tags, gateways=attrs.get("gateways", [])))
        if not targets:
            raise serializers.ValidationError({"selector_tags": NO_TARGETS})
        return targets


class ValidationView(APIView):
    """Validate a collector config without saving anything (same rules as saving a version)."""

    write_role = validation.VALIDATE_ROLE  # nothing is written: any member may validate

    @extend_schema(
        request=ValidationSerializer,
        responses={
            200: ValidationResultSerializer,
            400: OpenApiResponse(description="A field of the request is wrong (unknown gateway, tag, ...)."),
        },
    )
    def post(self, request):
        """Validate `config_yaml`: the answer lists errors and warnings with their line and column.

        A config that is not valid is still a 200: look at `valid` and `errors`.
        """
        serializer = ValidationSerializer(data=self._body(request), context={"request": request, "view": self})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = validation.validate_for_org(
            data["config_yaml"],
            data["organization"],
            gateways=data["targets"],
            template_type=data["template_type"],
            deep=data["deep"],
        )
        return Response(ValidationResultSerializer(result.as_dict()).data)

    def _body(self, request):
        try:
            return request.data
        except RequestDataTooBig:
            # Django refuses the body before the configuration's own size check can: say why, in JSON.
            limit = settings.FLOWGATE_MAX_CONFIG_BYTES
            raise ValidationError(
                {
                    "config_yaml": [
                        f"The request is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
                        f"a configuration may have at most {limit} bytes."
                    ]
                }
            )
