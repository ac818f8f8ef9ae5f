"""Validation of collector configurations: the one entry point of the API, the admin and pages.

`validate_config(text, scope=..., template_type=..., deep=...)` returns a ValidationResult (errors,
warnings, each with a path like `service.pipelines.logs.exporters[0]` and a line and column when
known). It checks, in order (docs/deployments.md, "Validation"):

1. YAML (templates_app.yaml_loader): size, nesting, aliases, duplicate keys, syntax. A config that
   fails here has `parse_error` set and nothing else is checked.
2. Structure (templates_app.config_schema): sections, ids, pipelines, references, connectors.
3. Components: every component type defined must be available where the config will run (a
   ComponentScope, see `scope_for_org`), unless the organization allows it as an extra.
4. The deep check (templates_app.collector_check), only when asked for and only when 1-3 found no error.

`validate_for_org` builds the scope from an organization (and optionally target gateways).
"""

from dataclasses import dataclass, field

from django.conf import settings

from core_app.roles import Role
from core_app.services import get_org_settings
from templates_app import collector_check, usage
from templates_app.components import SECTIONS, catalogue, gateway_source, pooled_source, reported_types
from templates_app.config_schema import (
    ERROR,
    WARNING,
    check_structure,
    format_path,
    id_problem,
    pipeline_signals,
    singular,
)
from templates_app.models import TemplateType, ValidationState
from templates_app.yaml_loader import ConfigYamlError, load_config_yaml

MAX_NAMED_GATEWAYS = 10
# Who may validate a config without saving it (the API's POST /validation and the editor's
# /templates/validate/ alike): any member, viewers included, since validating writes nothing.
VALIDATE_ROLE = Role.VIEWER
# Template types that promise one kind of signal: a config without a pipeline of it gets a warning.
SIGNAL_TYPES = {TemplateType.TRACES: "traces", TemplateType.METRICS: "metrics", TemplateType.LOGS: "logs"}


@dataclass(frozen=True)
class Message:
    """One problem: `code` names the rule, `path` the place in the config ('' for the whole document)."""

    code: str
    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None

    def as_dict(self):
        return {"code": self.code, "message": self.message, "path": self.path, "line": self.line, "column": self.column}


@dataclass
class ValidationResult:
    """Errors block deployment; warnings do not. `components` says what the components were checked against."""

    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    components: str = ""
    deep_check: collector_check.DeepCheck = collector_check.DeepCheck(collector_check.NOT_REQUESTED)
    parse_error: ConfigYamlError | None = None

    @property
    def valid(self):
        return not self.errors

    @property
    def state(self):
        if self.errors:
            return ValidationState.INVALID
        return ValidationState.WARNINGS if self.warnings else ValidationState.VALID

    def as_dict(self):
        return {
            "valid": self.valid,
            "validation_state": self.state.value,
            "errors": [message.as_dict() for message in self.errors],
            "warnings": [message.as_dict() for message in self.warnings],
            "components": self.components,
            "deep_check": self.deep_check.as_dict(),
        }


@dataclass(frozen=True)
class ComponentScope:
    """Where a config's components must be available.

    every=True: on each source (one per target gateway); the error names the gateways that lack a
    component. every=False: in the one pooled source. `extras` are allowed whatever the sources say.
    """

    sources: tuple
    every: bool = False
    extras: frozenset = frozenset()

    def describe(self):
        if self.every:
            return f"the components of {len(self.sources)} target gateway(s)"
        return self.sources[0].name

    def missing(self, section, type_name):
        """Names of the sources lacking `type_name` ([] when available)."""
        if type_name in self.extras:
            return []
        lacking = [source.name for source in self.sources if not source.has(section, type_name)]
        if self.every or len(lacking) == len(self.sources):
            return lacking
        return []


def catalogue_scope(extras=()):
    return ComponentScope(sources=(catalogue(),), extras=frozenset(extras))


def scope_for_org(org, gateways=None):
    """The ComponentScope of `org`: its target `gateways` (each must have every component) or, with
    no targets, the catalogue pooled with whatever the org's gateways reported; plus the org's extras.

    `gateways` are given by the caller (rows with `name` and `available_components`); the org's
    reports come from templates_app.usage: templates_app imports no gateways_app.
    """
    extras = frozenset(get_org_settings(org).extra_allowed_components)
    if gateways is None:
        return ComponentScope(sources=(pooled_source(usage.component_reports(org)),), extras=extras)
    parsed = {}  # report hash -> types: gateways of one build report the same hash
    sources = []
    for gateway in gateways:
        report_hash = (gateway.available_components or {}).get("hash") or None
        if report_hash not in parsed or report_hash is None:
            parsed[report_hash] = reported_types(gateway.available_components)
        sources.append(gateway_source(gateway, parsed[report_hash]))
    return ComponentScope(sources=tuple(sources), every=True, extras=extras)


class _Report:
    """Turns check_structure's (level, code, message, path) into Messages with line and column."""

    def __init__(self, result, positions):
        self.result = result
        self.positions = positions

    def __call__(self, level, code, message, path):
        line, column = self.locate(path)
        entry = Message(code=code, message=message, path=format_path(path), line=line, column=column)
        (self.result.errors if level == ERROR else self.result.warnings).append(entry)

    def locate(self, path):
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return None, None


def _check_components(data, scope, report):
    for section in SECTIONS:
        components = data.get(section)
        if not isinstance(components, dict):
            continue
        for component_id in components:
            if id_problem(component_id):
                continue  # the structure check reports it
            type_name = component_id.partition("/")[0]
            lacking = scope.missing(section, type_name)
            if lacking:
                report(
                    ERROR,
                    "component.unavailable",
                    _unavailable_message(section, type_name, scope, lacking),
                    (section, component_id),
                )


def _unavailable_message(section, type_name, scope, lacking):
    what = f"{singular(section).capitalize()} type '{type_name}'"
    if not scope.every:
        return (
            f"{what} is not available: it is not in {scope.sources[0].name}. If your collectors have it, "
            "add it to the organization's extra allowed components."
        )
    names = ", ".join(lacking[:MAX_NAMED_GATEWAYS])
    if len(lacking) > MAX_NAMED_GATEWAYS:
        names += f" and {len(lacking) - MAX_NAMED_GATEWAYS} more"
    return f"{what} is not available on gateway{'s' if len(lacking) > 1 else ''} {names}."


def _check_template_type(data, template_type, report):
    signal = SIGNAL_TYPES.get(template_type)
    if signal and signal not in pipeline_signals(data):
        report(
            WARNING,
            "template.type_mismatch",
            f"This is a {template_type} template but the config has no {signal} pipeline.",
            ("service", "pipelines"),
        )


def _deep_check(text, result, deep):
    if not deep:
        return collector_check.DeepCheck(collector_check.NOT_REQUESTED)
    binary = settings.FLOWGATE_COLLECTOR_BINARY
    if not binary:
        return collector_check.DeepCheck(collector_check.UNAVAILABLE, "No collector binary is configured.")
    if result.errors:
        return collector_check.DeepCheck(collector_check.SKIPPED, "Not run: fix the errors above first.")
    return collector_check.run_collector_validate(
        text, binary=binary, timeout=settings.FLOWGATE_COLLECTOR_VALIDATE_TIMEOUT_SECONDS
    )


def _record_deep_check(result):
    check = result.deep_check
    if check.status == collector_check.FAILED:
        result.errors.append(
            Message("collector.rejected", f"The collector refuses this configuration: {check.message}")
        )
    elif check.status in (collector_check.UNAVAILABLE, collector_check.TIMED_OUT):
        result.warnings.append(Message(f"collector.{check.status}", f"The deep check did not run: {check.message}"))
    elif check.status == collector_check.SKIPPED and not result.errors:
        result.warnings.append(Message("collector.skipped", f"The deep check did not run: {check.message}"))


def validate_config(text, *, scope=None, template_type=TemplateType.FULL, deep=False):
    """Validate collector YAML; returns a ValidationResult and never raises for bad input.

    `scope` defaults to the upstream catalogue; `deep` asks for the collector's own check (when
    settings.FLOWGATE_COLLECTOR_BINARY is set).
    """
    scope = scope or catalogue_scope()
    result = ValidationResult(components=scope.describe())
    try:
        loaded = load_config_yaml(text, max_bytes=settings.FLOWGATE_MAX_CONFIG_BYTES)
    except ConfigYamlError as exc:
        result.parse_error = exc
        result.errors.append(Message(exc.code, exc.message, line=exc.line, column=exc.column))
        return result
    report = _Report(result, loaded.positions)
    check_structure(loaded.data, report)
    _check_template_type(loaded.data, template_type, report)
    _check_components(loaded.data, scope, report)
    result.deep_check = _deep_check(text, result, deep)
    _record_deep_check(result)
    return result


def validate_for_org(text, org, *, gateways=None, template_type=TemplateType.FULL, deep=False):
    """validate_config with the organization's component scope (see scope_for_org)."""
    return validate_config(text, scope=scope_for_org(org, gateways), template_type=template_type, deep=deep)
