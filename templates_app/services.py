"""Services of the templates app: parsing and validating collector YAML, creating templates and
their versions, diffs.

Collector YAML is parsed only by templates_app.yaml_loader and validated only by
templates_app.validation; every front door (API, admin, pages) reaches them through these
services or the shared forms. A version whose YAML cannot be loaded is refused; one that loads but
fails validation is saved with its errors (validation_state "invalid") and cannot be deployed.
"""

import difflib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core_app import audit
from templates_app import validation
from templates_app.models import ConfigTemplate, TemplateType, TemplateVersion
from templates_app.yaml_loader import ConfigYamlError, load_config_yaml

DUPLICATE_NAME_MESSAGE = "A template with this name already exists in the organization."


def parse_collector_yaml(text):
    """Parse a collector configuration and return it as a dict.

    Raises ValidationError({"config_yaml": ...}) when the text is not a string, is larger
    than FLOWGATE_MAX_CONFIG_BYTES, is not valid YAML (the message starts with
    "line L, column C:"), breaks a loading limit (nesting, aliases, duplicate keys; see
    templates_app.yaml_loader) or is not a mapping at the top level.
    """
    try:
        return load_config_yaml(text, max_bytes=settings.FLOWGATE_MAX_CONFIG_BYTES).data
    except ConfigYamlError as exc:
        raise ValidationError({"config_yaml": str(exc)})


def validate_version_config(template, config_yaml):
    """Validate YAML meant to become a version of `template` (the one validation of every front door).

    Components are checked against the organization's pool (see validation.scope_for_org); the
    deep check runs when a collector binary is configured. Returns a ValidationResult.
    """
    return validation.validate_for_org(
        config_yaml,
        template.organization,
        template_type=template.type,
        deep=bool(settings.FLOWGATE_COLLECTOR_BINARY),
    )


def _validation_fields(result, now):
    return {
        "validation_state": result.state,
        "validation_errors": [message.as_dict() for message in result.errors],
        "validation_warnings": [message.as_dict() for message in result.warnings],
        "validated_at": now,
    }


def revalidate_version(version, *, user=None, request=None, now=None):
    """Validate a stored version again (after a catalogue or fleet change), store and audit the result.

    Only the validation fields change: the version's content stays immutable. Returns the result.
    """
    result = validate_version_config(version.template, version.config_yaml)
    fields = _validation_fields(result, now or timezone.now())
    before = version.validation_state
    with transaction.atomic():
        # The immutable queryset refuses update(); the base manager is how derived fields are refreshed.
        TemplateVersion._base_manager.filter(pk=version.pk).update(**fields)
        for name, value in fields.items():
            setattr(version, name, value)
        audit.record(
            version.organization,
            "template_version.revalidated",
            version,
            user=user,
            request=request,
            changes={"validation_state": {"from": before, "to": version.validation_state}},
        )
    return result


def _name_taken(template):
    others = ConfigTemplate.objects.for_org(template.organization).filter(name=template.name)
    return others.exclude(pk=template.pk).exists()


def save_template(template):
    """Validate and save a template's own fields (not its versions).

    A name already used in the organization is a ValidationError on `name`, also when a
    concurrent request wins the race to the unique constraint.
    """
    template.full_clean(exclude=["created_by"], validate_unique=False, validate_constraints=False)
    if _name_taken(template):
        raise ValidationError({"name": DUPLICATE_NAME_MESSAGE})
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        if _name_taken(template):
            raise ValidationError({"name": DUPLICATE_NAME_MESSAGE})
        raise
    return template


@transaction.atomic
def create_template(
    org, *, name, author, type=TemplateType.FULL, description="", config_yaml=None, change_summary="", request=None
):
    """Create a template and, when `config_yaml` is given, its version 1, all or nothing."""
    template = ConfigTemplate(organization=org, name=name, type=type, description=description, created_by=author)
    save_template(template)
    audit.record(
        org,
        "template.created",
        template,
        user=author,
        request=request,
        changes={"name": name, "type": type, "description": description},
    )
    if config_yaml is not None:
        create_version(template, config_yaml=config_yaml, change_summary=change_summary, author=author, request=request)
    return template


def create_version(template, *, config_yaml, change_summary, author, now=None, request=None):
    """Add the next version (1, 2, 3…) of `template` with this YAML, and audit it.

    The template row is locked while the number is chosen, so concurrent calls queue up
    and each gets its own number; the (template, number) unique constraint backs this.
    `now` (for tests) fixes the version's creation time and the template's updated_at.
    """
    result = validate_version_config(template, config_yaml)
    if result.parse_error is not None:
        raise ValidationError({"config_yaml": str(result.parse_error)})
    with transaction.atomic():
        locked = ConfigTemplate.objects.select_for_update().get(pk=template.pk)
        last = TemplateVersion.objects.filter(template=locked).aggregate(last=Max("number"))["last"] or 0
        version = TemplateVersion(
            template=locked,
            number=last + 1,
            config_yaml=config_yaml,
            change_summary=change_summary,
            author=author,
            **_validation_fields(result, now or timezone.now()),
        )
        version.full_clean(exclude=["template", "author", "number", "sha256"], validate_constraints=False)
        version.save()
        if now is not None:
            # created_at is auto_now_add; set it while the row is still being created, before
            # anyone can see it (the immutable queryset refuses update(), the base manager does not).
            TemplateVersion._base_manager.filter(pk=version.pk).update(created_at=now)
            version.created_at = now
        ConfigTemplate.objects.filter(pk=locked.pk).update(updated_at=now or timezone.now())
        audit.record(
            locked.organization,
            "template_version.created",
            version,
            user=author,
            request=request,
            changes={"template": str(locked.pk), "number": version.number, "sha256": version.sha256},
        )
    return version


def diff_versions(a, b):
    """A unified diff from version `a` to version `b` of the same template ("" when equal)."""
    if a.template_id != b.template_id:
        raise ValueError("Both versions must belong to the same template.")
    name = a.template.name
    lines = difflib.unified_diff(
        a.config_yaml.splitlines(),
        b.config_yaml.splitlines(),
        fromfile=f"{name} v{a.number}",
        tofile=f"{name} v{b.number}",
        lineterm="",
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""
