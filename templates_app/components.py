"""Where the list of available collector components comes from, for validation.

A ComponentSource is one set of component types per config section (receivers, processors, ...):
- a gateway's own report (Gateway.available_components, from OpAMP AvailableComponents);
- the catalogue of the upstream otelcol-contrib distribution, kept in templates_app/data/ and built
  by scripts/build_component_catalogue.py, for gateways that reported nothing.

The organization's `extra_allowed_components` (type names, any section) are allowed everywhere.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SECTIONS = ("receivers", "processors", "exporters", "extensions", "connectors")
CATALOGUE_DISTRIBUTION = "otelcol-contrib"
CATALOGUE_VERSION = "0.130.0"
CATALOGUE_PATH = Path(__file__).resolve().parent / "data" / f"otelcol-contrib-components-v{CATALOGUE_VERSION}.json"

# OpAMP's AvailableComponents has no fixed layout; the collector's opamp extension reports one entry
# per kind ("receivers", ...) whose sub_component_map is keyed by component type. Singular kind
# names are accepted too.
_KIND_NAMES = {section: section for section in SECTIONS} | {section[:-1]: section for section in SECTIONS}


@dataclass(frozen=True)
class ComponentSource:
    """Component types available somewhere (a gateway, or the catalogue), per config section."""

    name: str
    types: dict  # section -> frozenset of type names
    gateway: object = None

    def has(self, section, type_name):
        return type_name in self.types.get(section, ())


@cache
def catalogue():
    """The ComponentSource of the upstream otelcol-contrib release FlowGate ships a catalogue of."""
    data = json.loads(CATALOGUE_PATH.read_text())
    types = {section: frozenset(data["components"].get(section, ())) for section in SECTIONS}
    return ComponentSource(name=f"the {data['distribution']} v{data['version']} catalogue", types=types)


def reported_types(available_components):
    """section -> frozenset of types from a Gateway.available_components value; {} if it has none."""
    components = (available_components or {}).get("components") or {}
    types = {}
    for kind, details in components.items():
        section = _KIND_NAMES.get(kind)
        if section is None or not isinstance(details, dict):
            continue
        names = (details.get("sub_component_map") or {}).keys()
        types[section] = types.get(section, frozenset()) | frozenset(names)
    return types if any(types.values()) else {}


def gateway_source(gateway, types=None):
    """What `gateway` reported (`types`, when already parsed), or the catalogue when it reported nothing."""
    types = reported_types(gateway.available_components) if types is None else types
    if types:
        return ComponentSource(name=gateway.name, types=types, gateway=gateway)
    return ComponentSource(name=gateway.name, types=catalogue().types, gateway=gateway)


def pooled_source(reports):
    """The catalogue united with what gateways reported: what some known collector runs.

    `reports` are (available_components, number of gateways that reported it) pairs.
    """
    pooled = {section: set(types) for section, types in catalogue().types.items()}
    reporters = 0
    for available_components, count in reports:
        types = reported_types(available_components)
        reporters += count if types else 0
        for section, names in types.items():
            pooled.setdefault(section, set()).update(names)
    name = catalogue().name
    if reporters:
        name += f" and the components reported by {reporters} gateway{'s' if reporters != 1 else ''}"
    return ComponentSource(name=name, types={section: frozenset(names) for section, names in pooled.items()})
