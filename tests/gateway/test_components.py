"""`<collector> components` parsing and the AvailableComponents report built from it."""

import asyncio

import pytest

from gateway.collector import Components, list_components
from gateway.report import available_components

SAMPLE = """buildinfo:
    command: otelcontribcol
    description: Local OpenTelemetry Collector Contrib binary, testing only.
    version: 0.135.0-dev
receivers:
    - name: filelog
      module: github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver v0.135.0
      stability:
        logs: Beta
exporters:
    - name: otlphttp
      module: go.opentelemetry.io/collector/exporter/otlphttpexporter v0.135.0
connectors: []
extensions: []
"""


def test_components_output_is_parsed_by_kind_with_modules_and_version():
    parsed = Components.parse(SAMPLE)
    assert parsed.version == "0.135.0-dev" and parsed.command == "otelcontribcol"
    assert parsed.kinds["receivers"] == {
        "filelog": "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver v0.135.0"
    }
    assert parsed.kinds["processors"] == {} and parsed.kinds["extensions"] == {}
    assert parsed.has("exporters", "otlphttp") and not parsed.has("extensions", "opamp")


@pytest.mark.process
def test_the_real_collector_lists_its_components(collector_binary):
    parsed = asyncio.run(list_components(collector_binary))
    assert parsed.has("receivers", "filelog") and parsed.has("exporters", "otlphttp")
    assert parsed.version


def test_the_report_carries_the_hash_alone_unless_the_full_map_is_asked_for():
    kinds = Components.parse(SAMPLE).kinds
    short, full = available_components(kinds, full=False), available_components(kinds, full=True)
    assert short.hash == full.hash and len(short.hash) == 32
    assert not short.components
    filelog = full.components["receivers"].sub_component_map["filelog"]
    assert filelog.metadata[0].key == "code.namespace"
    assert filelog.metadata[0].value.string_value.endswith("filelogreceiver@v0.135.0")


def test_the_hash_changes_with_the_component_set():
    kinds = Components.parse(SAMPLE).kinds
    other = Components.parse(SAMPLE.replace("name: otlphttp", "name: otlp")).kinds
    assert available_components(kinds, full=False).hash != available_components(other, full=False).hash
