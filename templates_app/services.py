"""Services of the templates app: parsing and validating collector YAML, creating templates and
their versions, diffs.

Collector YAML is parsed only by templates_app.yaml_loader and validated only by
templates_app.validation; every front door (API, admin, pages) reaches them through these
services or the shared forms. A version whose YAML cannot be loaded is refused; one that loads but
fails validation is saved with its errors (validation_state "invalid") and cannot be deployed.

The fast checks (YAML, structure, components against the organization's pool) run in the request.
The deep check (the collector binary's own `validate`, when FLOWGATE_COLLECTOR_BINARY is set) can
take seconds, so it never does: a version that passed the fast checks is stored "checking" and
`check_version` (run by templates_app.tasks.check_version) stores the full result later.
"""

import difflib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core_app import audit
from templates_app import validation
from templates_app.models import ConfigTemplate, TemplateType, TemplateVersion, ValidationState
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


def deep_check_configured():
    """True when versions get the collector's deep check (a task, see check_version)."""
    return bool(settings.FLOWGATE_COLLECTOR_BINARY)


def validate_version_config(template, config_yaml, *, deep=False):
    """Validate YAML meant to become a version of `template` (the one validation of every front door).

    Components are checked against the organization's pool (see validation.scope_for_org); the
    deep check runs only when asked for (`deep`, from a task: it runs the collector binary).
    Returns a ValidationResult.
    """
    return validation.validate_for_org(config_yaml, template.organization, template_type=template.type, deep=deep)


def _result_fields(result, now):
    return {
        "validation_state": result.state,
        "validation_errors": [message.as_dict() for message in result.errors],
        "validation_warnings": [message.as_dict() for message in result.warnings],
        "validated_at": now,
    }


def _validation_fields(result, now):
    """The stored validation fields of a fast-check result: "checking" (no validated_at yet) when
    it found no error and the deep check is still to run."""
    fields = _result_fields(result, now)
    if result.valid and deep_check_configured():
        fields.update(validation_state=ValidationState.CHECKING, validated_at=None)
    return fields


def _queue_check(version):
    """After the commit, a worker runs the deep check of a version left "checking".

    Without a broker (CELERY_TASK_ALWAYS_EAGER, the embedded defaults) .delay() would run the
    collector inside this request: the server's embedded beat runs tasks.check_versions instead.
    """
    if version.validation_state != ValidationState.CHECKING or settings.CELERY_TASK_ALWAYS_EAGER:
        return
    from templates_app import tasks  # tasks import these services

    version_id = str(version.pk)
    transaction.on_commit(lambda: tasks.check_version.delay(version_id), robust=True)


def revalidate_version(version, *, user=None, request=None, now=None):
    """Validate a stored version again (after a catalogue or fleet change), store and audit the result.

    Only the validation fields change: the version's content stays immutable. With a collector
    binary the version is "checking" again until check_version has run the deep check (queued
    here). Returns the result of the fast checks.
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
        _queue_check(version)
    return result


def check_version(version_id, *, now=None):
    """Run every check of a "checking" version, the collector's deep check included; store and audit.

    Idempotent: a version no longer "checking" (checked already, or by a concurrent run) is left
    as it is, and only the run that moves it out of "checking" writes the audit entry. Returns the
    version (None when it no longer exists).
    """
    version = TemplateVersion._base_manager.select_related("template__organization").filter(pk=version_id).first()
    if version is None or version.validation_state != ValidationState.CHECKING:
        return version
    result = validate_version_config(version.template, version.config_yaml, deep=True)
    fields = _result_fields(result, now or timezone.now())
    with transaction.atomic():
        checking = TemplateVersion._base_manager.filter(pk=version.pk, validation_state=ValidationState.CHECKING)
        if not checking.update(**fields):
            version.refresh_from_db()
            return version
        for name, value in fields.items():
            setattr(version, name, value)
        audit.record(
            version.organization,
            "template_version.checked",
            version,
            changes={
                "validation_state": {"from": ValidationState.CHECKING.value, "to": version.validation_state},
                "deep_check": result.deep_check.status,
            },
        )
    return version


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
    result = validate_version_config(template, config_yaml)  # the fast checks; the deep one is a task
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
        _queue_check(version)
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
