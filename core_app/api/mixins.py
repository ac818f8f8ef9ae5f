"""Building blocks every FlowGate viewset and serializer uses."""

from django.db import transaction
from rest_framework import serializers

from core_app.api.permissions import write_role_of
from core_app.models import Organization


class OrgScopedMixin:
    """Viewset mixin: the queryset is always narrowed to the caller's organizations.

    Objects of other organizations are therefore 404, never 403. Set `queryset` to an
    OrgQuerySet (with select_related as needed) and, optionally, `write_role`.
    """

    def get_queryset(self):
        return super().get_queryset().for_user(self.request.user)


class StrictFieldsMixin:
    """Serializer mixin: unknown fields in the request body are an error, not silently dropped."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class CurrentOrgDefault:
    """Default organization: the only one in which the caller may write."""

    requires_context = True

    def __call__(self, field):
        orgs = list(field.get_queryset()[:2])
        if len(orgs) == 1:
            return orgs[0]
        raise serializers.ValidationError("Name the organization (slug): you may write in several or in none.")


class OrgSlugField(serializers.SlugRelatedField):
    """The `organization` field: a slug, limited to orgs where the caller has the view's write role."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default", CurrentOrgDefault())
        super().__init__(slug_field="slug", queryset=Organization.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context["request"]
        return Organization.objects.for_user(request.user, min_role=write_role_of(self.context.get("view")))


def scoped_related(model, field, **kwargs):
    """A PrimaryKeyRelatedField whose choices are the caller's organizations' rows of `model`."""

    class ScopedField(field):
        def get_queryset(self):
            return model.objects.for_user(self.context["request"].user)

    return ScopedField(**kwargs)


class OrgOwnedSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Base for serializers of org-owned models: `organization` is set on create and frozen after.

    Related fields to other org-owned rows must belong to the same organization; subclasses
    list them in `same_org_fields`.
    """

    organization = OrgSlugField()
    same_org_fields = ()

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["organization"] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        org = attrs.get("organization") or getattr(self.instance, "organization", None)
        for name in self.same_org_fields:
            value = attrs.get(name)
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if item is not None and item.organization_id != org.pk:
                    raise serializers.ValidationError({name: "Must belong to the same organization."})
        return attrs


def _plain(value):
    """A JSON-friendly form of a field value for the audit log."""
    if hasattr(value, "all"):
        return sorted(str(item) for item in value.all())
    if isinstance(value, (list, tuple, set)):
        return sorted(str(item) for item in value)
    if value is None or isinstance(value, (bool, int, float, str, dict)):
        return value
    return str(value)


class AuditedMixin:
    """Viewset mixin: every create, update and delete through the API writes an audit entry.

    Views set `audit_name` (e.g. "template"); actions are "<name>.created/.updated/.deleted".
    """

    audit_name = None

    def _audit(self, verb, obj, changes):
        from core_app import audit

        name = self.audit_name or obj._meta.model_name
        audit.record(obj.organization, f"{name}.{verb}", obj, request=self.request, changes=changes)

    def perform_create(self, serializer):
        obj = serializer.save()
        self._audit("created", obj, {k: _plain(v) for k, v in serializer.validated_data.items()})

    def perform_update(self, serializer):
        before = {k: _plain(getattr(serializer.instance, k, None)) for k in serializer.validated_data}
        obj = serializer.save()
        after = {k: _plain(getattr(obj, k, None)) for k in serializer.validated_data}
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        self._audit("updated", obj, changed)

    def perform_destroy(self, instance):
        # One transaction: a delete refused (e.g. ProtectedError) leaves no "deleted" entry behind.
        with transaction.atomic():
            self._audit("deleted", instance, {"repr": str(instance)})
            instance.delete()
