"""The collector configuration's structure, as the OpenTelemetry Collector checks it.

`check_structure(data, report)` walks a parsed config and calls `report(level, code, message, path)`
for every problem; it never raises. The rules follow the collector's own (`otelcol validate`):
known top-level sections only; component ids `type` or `type/name`; every component referenced in
service.pipelines and service.extensions defined; each pipeline (`traces|metrics|logs[/name]`) with
receivers and exporters; connectors used as an exporter in one pipeline and a receiver in another.
Definitions nothing uses are warnings (the collector ignores them).
"""

import re
import unicodedata

from templates_app.components import SECTIONS

TOP_LEVEL = (*SECTIONS, "service")
SERVICE_KEYS = ("extensions", "pipelines", "telemetry")
PIPELINE_ROLES = ("receivers", "processors", "exporters")
SIGNALS = ("traces", "metrics", "logs")
# Profiles are alpha in the collector, behind the service.profilesSupport feature gate.
GATED_SIGNALS = {"profiles": "service.profilesSupport"}
# Which sections a pipeline role may name.
ROLE_SECTIONS = {
    "receivers": ("receivers", "connectors"),
    "processors": ("processors",),
    "exporters": ("exporters", "connectors"),
}

TYPE_RE = re.compile(r"^[a-zA-Z][0-9a-zA-Z_]{0,62}$")
MAX_NAME_LENGTH = 1024

ERROR = "error"
WARNING = "warning"


def singular(section):
    return section[:-1]


def name_problem(name):
    """Why the `name` part of an id is invalid, or None (collector: no spaces, controls or symbols)."""
    if not name:
        return "the part after '/' is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is longer than {MAX_NAME_LENGTH} characters"
    for char in name:
        if unicodedata.category(char)[0] in "ZCS":
            return f"the name contains {char!r} (no spaces, control characters or symbols)"
    return None


def id_problem(value):
    """Why `value` is not a valid component id (`type` or `type/name`), or None."""
    if not isinstance(value, str):
        return f"component ids are text, not {type(value).__name__}"
    type_name, slash, name = value.partition("/")
    if not TYPE_RE.match(type_name):
        return f"the type {type_name!r} must start with a letter and hold only letters, digits and '_'"
    return name_problem(name) if slash else None


def pipeline_id_problem(value):
    """Why `value` is not a valid pipeline id (`signal` or `signal/name`), or None."""
    if not isinstance(value, str):
        return f"pipeline ids are text, not {type(value).__name__}"
    signal, slash, name = value.partition("/")
    if signal in GATED_SIGNALS:
        return (
            f"{signal} pipelines are alpha in the collector and need its {GATED_SIGNALS[signal]} feature gate; "
            "FlowGate does not deploy them"
        )
    if signal not in SIGNALS:
        return f"the signal {signal!r} is not one of {', '.join(SIGNALS)}"
    return name_problem(name) if slash else None


class StructureCheck:
    """One walk over a parsed config. Results go to `report(level, code, message, path)`."""

    def __init__(self, data, report):
        self.data = data
        self.report = report
        self.defined = {section: {} for section in SECTIONS}  # section -> {id: path}
        self.used = set()  # (section, id)
        self.connector_roles = {}  # connector id -> {"receivers": [pipeline ids], "exporters": [...]}

    def run(self):
        for key in self.data:
            if key not in TOP_LEVEL:
                self.error(
                    "structure.unknown_section",
                    f"Unknown top-level section {key!r}: a collector config has {', '.join(TOP_LEVEL)}.",
                    (key,),
                )
        for section in SECTIONS:
            self.collect_definitions(section)
        self.check_ambiguous_connectors()
        self.check_service()
        self.check_connectors()
        self.warn_unused()

    def error(self, code, message, path):
        self.report(ERROR, code, message, path)

    def warning(self, code, message, path):
        self.report(WARNING, code, message, path)

    def collect_definitions(self, section):
        components = self.data.get(section)
        if components is None:
            return
        if not isinstance(components, dict):
            self.error(
                "structure.section_type", f"'{section}' must be a mapping of component ids to settings.", (section,)
            )
            return
        for component_id, settings in components.items():
            path = (section, component_id)
            problem = id_problem(component_id)
            if problem:
                self.error(
                    "structure.component_id", f"Invalid {singular(section)} id {component_id!r}: {problem}.", path
                )
                if not isinstance(component_id, str):
                    continue
                # Still counted as defined, so that its references are not reported again as undefined.
            if settings is not None and not isinstance(settings, dict):
                self.error(
                    "structure.component_settings",
                    f"The settings of {singular(section)} '{component_id}' must be a mapping (or empty).",
                    path,
                )
            self.defined[section][component_id] = path

    def check_ambiguous_connectors(self):
        for connector_id, path in self.defined["connectors"].items():
            for section in ("receivers", "exporters"):
                if connector_id in self.defined[section]:
                    self.error(
                        "structure.ambiguous_id",
                        f"'{connector_id}' is defined both as a connector and as {singular(section)}: rename one.",
                        path,
                    )

    def check_service(self):
        service = self.data.get("service")
        if service is None:
            self.error("structure.missing_service", "The config has no 'service' section (with its pipelines).", ())
            return
        if not isinstance(service, dict):
            self.error(
                "structure.section_type",
                "'service' must be a mapping (extensions, pipelines, telemetry).",
                ("service",),
            )
            return
        for key in service:
            if key not in SERVICE_KEYS:
                self.error(
                    "structure.unknown_key",
                    f"Unknown key {key!r} in service: it has {', '.join(SERVICE_KEYS)}.",
                    ("service", key),
                )
        self.check_references(service.get("extensions"), ("extensions",), ("service", "extensions"), "extension")
        self.check_pipelines(service.get("pipelines"))

    def check_pipelines(self, pipelines):
        path = ("service", "pipelines")
        if not pipelines:
            self.error(
                "structure.missing_pipelines", "service.pipelines is missing or empty: a collector needs one.", path
            )
            return
        if not isinstance(pipelines, dict):
            self.error("structure.section_type", "service.pipelines must be a mapping of pipeline ids.", path)
            return
        for pipeline_id, pipeline in pipelines.items():
            problem = pipeline_id_problem(pipeline_id)
            if problem:
                self.error(
                    "structure.pipeline_id", f"Invalid pipeline id {pipeline_id!r}: {problem}.", (*path, pipeline_id)
                )
                continue
            self.check_pipeline(pipeline_id, pipeline, (*path, pipeline_id))

    def check_pipeline(self, pipeline_id, pipeline, path):
        if not isinstance(pipeline, dict):
            self.error(
                "structure.section_type", f"Pipeline '{pipeline_id}' must be a mapping (receivers, exporters).", path
            )
            return
        for key in pipeline:
            if key not in PIPELINE_ROLES:
                self.error(
                    "structure.unknown_key",
                    f"Unknown key {key!r} in pipeline '{pipeline_id}': it has {', '.join(PIPELINE_ROLES)}.",
                    (*path, key),
                )
        for role in ("receivers", "exporters"):
            if not pipeline.get(role):
                self.error(
                    f"structure.pipeline_{role}", f"Pipeline '{pipeline_id}' must have at least one {role[:-1]}.", path
                )
        for role in PIPELINE_ROLES:
            names = self.check_references(pipeline.get(role), ROLE_SECTIONS[role], (*path, role), role[:-1])
            for name in names:
                if name in self.defined["connectors"] and role != "processors":
                    self.connector_roles.setdefault(name, {"receivers": [], "exporters": []})[role].append(pipeline_id)

    def check_references(self, names, sections, path, what):
        """Check a list of component ids against their sections; return the valid, defined ones."""
        if names is None:
            return []
        if not isinstance(names, list):
            self.error("structure.reference_list", f"{format_path(path)} must be a list of {what} ids.", path)
            return []
        found = []
        for index, name in enumerate(names):
            item = (*path, index)
            if not isinstance(name, str) or not any(name in self.defined[section] for section in sections):
                defined_in = " or ".join(sections)
                self.error(
                    "structure.undefined_component",
                    f"{what.capitalize()} {name!r} is not defined in {defined_in}.",
                    item,
                )
                continue
            if name in found:
                self.warning(
                    "structure.duplicate_reference", f"{what.capitalize()} '{name}' is listed twice here.", item
                )
                continue
            found.append(name)
            self.used.update((section, name) for section in sections if name in self.defined[section])
        return found

    def check_connectors(self):
        for connector_id, roles in self.connector_roles.items():
            path = self.defined["connectors"][connector_id]
            if roles["exporters"] and not roles["receivers"]:
                self.error(
                    "structure.connector_unpaired",
                    f"Connector '{connector_id}' is an exporter in pipeline '{roles['exporters'][0]}' "
                    "but a receiver in no pipeline: a connector joins two pipelines.",
                    path,
                )
            elif roles["receivers"] and not roles["exporters"]:
                self.error(
                    "structure.connector_unpaired",
                    f"Connector '{connector_id}' is a receiver in pipeline '{roles['receivers'][0]}' "
                    "but an exporter in no pipeline: a connector joins two pipelines.",
                    path,
                )

    def warn_unused(self):
        for section, components in self.defined.items():
            for component_id, path in components.items():
                if (section, component_id) not in self.used:
                    where = "service.extensions" if section == "extensions" else "any pipeline"
                    self.warning(
                        "structure.unused_component",
                        f"{singular(section).capitalize()} '{component_id}' is defined but not used in {where}.",
                        path,
                    )


def pipeline_signals(data):
    """The signals of the config's well-formed pipelines (for template-type checks)."""
    service = data.get("service")
    pipelines = service.get("pipelines") if isinstance(service, dict) else None
    if not isinstance(pipelines, dict):
        return set()
    return {pipeline_id.partition("/")[0] for pipeline_id in pipelines if isinstance(pipeline_id, str)}


def format_path(path):
    """('service', 'pipelines', 'logs', 'exporters', 0) -> 'service.pipelines.logs.exporters[0]'."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def check_structure(data, report):
    """Check a parsed config's structure; every problem goes to report(level, code, message, path)."""
    StructureCheck(data, report).run()
