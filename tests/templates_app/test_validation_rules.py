"""Validation, step 2: the collector config's structure (checked against the catalogue; no database)."""

import pytest

from templates_app.models import TemplateType
from templates_app.validation import validate_config

from .validation_helpers import VALID, codes, only_error


def test_a_valid_config_passes_without_errors_or_warnings():
    result = validate_config(VALID)
    assert (result.valid, result.errors, result.warnings, result.state) == (True, [], [], "valid")


def test_a_pipeline_without_exporter_names_the_pipeline_and_its_line():
    error = only_error(VALID.replace("      exporters: [otlphttp]\n", ""))
    assert error.code == "structure.pipeline_exporters"
    assert error.message == "Pipeline 'traces' must have at least one exporter."
    assert (error.path, error.line, error.column) == ("service.pipelines.traces", 12, 5)


def test_a_missing_exporter_definition_points_at_the_reference():
    result = validate_config(VALID.replace("  otlphttp:\n    endpoint: https://collector.example.com:4318\n", ""))
    error = result.errors[0]
    assert error.code == "structure.undefined_component"
    assert error.message == "Exporter 'otlphttp' is not defined in exporters or connectors."
    assert (error.path, error.line, error.column) == ("service.pipelines.traces.exporters[0]", 13, 19)


def test_a_wrong_pipeline_type_lists_the_signals():
    error = only_error(VALID.replace("    traces:\n", "    events:\n"))
    assert error.code == "structure.pipeline_id"
    assert error.message == "Invalid pipeline id 'events': the signal 'events' is not one of traces, metrics, logs."
    assert (error.path, error.line) == ("service.pipelines.events", 12)


def test_named_pipelines_are_fine():
    assert validate_config(VALID.replace("    traces:\n", "    traces/edge-eu.1:\n")).valid


def test_a_profiles_pipeline_is_refused_with_the_feature_gate_named():
    error = only_error(VALID.replace("    traces:\n", "    profiles:\n"))
    assert "service.profilesSupport" in error.message


def test_an_empty_pipeline_name_is_refused():
    error = only_error(VALID.replace("    traces:\n", "    traces/:\n"))
    assert error.message == "Invalid pipeline id 'traces/': the part after '/' is empty."


def test_an_unknown_top_level_section_is_an_error():
    error = only_error(VALID + "pipelines: {}\n")
    assert (error.code, error.path, error.line) == ("structure.unknown_section", "pipelines", 16)


def test_an_unknown_key_in_a_pipeline_is_an_error():
    error = only_error(VALID.replace("      processors: [batch]\n", "      processors: [batch]\n      filters: []\n"))
    assert (error.code, error.path) == ("structure.unknown_key", "service.pipelines.traces.filters")


def test_a_config_without_service_is_incomplete():
    text = VALID[: VALID.index("service:")]
    assert codes(validate_config(text).errors) == ["structure.missing_service"]


def test_a_service_without_pipelines_is_incomplete():
    text = VALID[: VALID.index("  pipelines:")] + "  telemetry: {}\n"
    assert codes(validate_config(text).errors) == ["structure.missing_pipelines"]


@pytest.mark.parametrize(
    ("component_id", "problem"),
    [
        ("otlp/a b", "the name contains ' '"),
        ("otlp/a+b", "the name contains '+'"),
        ("9otlp", "the type '9otlp' must start with a letter"),
        ("ot-lp", "the type 'ot-lp' must start with a letter"),
    ],
)
def test_component_ids_follow_the_collector_rules(component_id, problem):
    text = VALID.replace("  otlp:\n", f'  "{component_id}":\n').replace("[otlp]", f'["{component_id}"]')
    error = only_error(text)  # its reference in the pipeline is not reported again
    assert error.code == "structure.component_id"
    assert problem in error.message


def test_component_settings_must_be_a_mapping():
    error = only_error(VALID.replace("  batch: {}\n", "  batch: 5\n"))
    assert error.message == "The settings of processor 'batch' must be a mapping (or empty)."


def test_empty_component_settings_are_fine():
    assert validate_config(VALID.replace("  batch: {}\n", "  batch:\n")).valid


def test_unused_definitions_are_warnings_not_errors():
    text = VALID.replace("  batch: {}\n", "  batch: {}\n  batch/spare: {}\n") + "extensions:\n  health_check: {}\n"
    result = validate_config(text)
    assert (result.valid, result.state) == (True, "warnings")
    assert [warning.message for warning in result.warnings] == [
        "Processor 'batch/spare' is defined but not used in any pipeline.",
        "Extension 'health_check' is defined but not used in service.extensions.",
    ]
    assert result.warnings[0].line == 7


def test_an_extension_in_service_must_be_defined():
    text = VALID.replace("service:\n", "service:\n  extensions: [health_check]\n")
    error = only_error(text)
    assert (error.code, error.path) == ("structure.undefined_component", "service.extensions[0]")


SPANMETRICS = """\
receivers:
  otlp:
    protocols: {grpc: {}}
exporters:
  otlphttp:
    endpoint: https://collector.example.com:4318
connectors:
  spanmetrics: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics]
    metrics:
      receivers: [spanmetrics]
      exporters: [otlphttp]
"""


def test_a_connector_joining_two_pipelines_is_fine():
    assert validate_config(SPANMETRICS).valid


def test_a_connector_used_only_as_exporter_is_an_error():
    text = SPANMETRICS.replace("receivers: [spanmetrics]", "receivers: [otlp]")
    error = only_error(text)
    assert error.code == "structure.connector_unpaired"
    assert error.message.startswith("Connector 'spanmetrics' is an exporter in pipeline 'traces' but a receiver in no")


def test_a_connector_may_not_be_used_as_a_processor():
    text = SPANMETRICS.replace(
        "      exporters: [spanmetrics]\n", "      processors: [spanmetrics]\n      exporters: [spanmetrics]\n"
    )
    assert "Processor 'spanmetrics' is not defined in processors." in [e.message for e in validate_config(text).errors]


def test_a_typed_template_without_its_pipeline_gets_a_warning():
    result = validate_config(VALID, template_type=TemplateType.LOGS)
    assert (result.valid, codes(result.warnings)) == (True, ["template.type_mismatch"])
    assert result.warnings[0].message == "This is a logs template but the config has no logs pipeline."


def test_each_problem_is_reported_not_just_the_first():
    text = VALID.replace("    traces:\n", "    events:\n") + "pipelines: {}\n"
    assert sorted(codes(validate_config(text).errors)) == ["structure.pipeline_id", "structure.unknown_section"]
