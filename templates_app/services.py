"""Services of the templates app: parsing collector YAML, creating templates and their versions, diffs.

`parse_collector_yaml` is the one place collector YAML is parsed; every front door (API,
admin, pages) reaches it through these services or the shared forms.
"""

import difflib

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from flowgate_site import audit
from templates_app.models import ConfigTemplate, TemplateType, TemplateVersion

DUPLICATE_NAME_MESSAGE = "A template with this name already exists in the organization."


def _yaml_error(exc, text):
    """A one-line, user-facing description of a YAML error, with a 1-based line and column."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None:
            return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
        return problem
    if isinstance(exc, yaml.reader.ReaderError):
        # Reader errors (e.g. control characters) carry a character offset, not a mark.
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        return f"line {line}, column {column}: {exc.reason} (character #x{exc.character:04x})"
    return f"invalid YAML: {exc}"


def parse_collector_yaml(text):
    """Parse a collector configuration and return it as a dict.

    Raises ValidationError({"config_yaml": ...}) when the text is not a string, is larger
    than FLOWGATE_MAX_CONFIG_BYTES, is not valid YAML (the message starts with
    "line L, column C:") or is not a mapping at the top level.
    """
    if not isinstance(text, str):
        raise ValidationError({"config_yaml": "Give the configuration as YAML text."})
    size = len(text.encode("utf-8"))
    limit = settings.FLOWGATE_MAX_CONFIG_BYTES
    if size > limit:
        raise ValidationError({"config_yaml": f"The configuration is {size} bytes; the limit is {limit} bytes."})
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError({"config_yaml": _yaml_error(exc, text)})
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ValidationError(
            {"config_yaml": f"The configuration must be a YAML mapping (receivers:, exporters:, ...), not {kind}."}
        )
    return data


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
    parse_collector_yaml(config_yaml)
    with transaction.atomic():
        locked = ConfigTemplate.objects.select_for_update().get(pk=template.pk)
        last = TemplateVersion.objects.filter(template=locked).aggregate(last=Max("number"))["last"] or 0
        version = TemplateVersion(
            template=locked,
            number=last + 1,
            config_yaml=config_yaml,
            change_summary=change_summary,
            author=author,
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
