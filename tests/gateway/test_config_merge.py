"""The base config + remote config merge (gateway.configs.merge) and config parsing."""

import pytest

from gateway.configs import ConfigError, has_pipelines, merge, parse_mapping


def test_nested_mappings_are_merged_key_by_key():
    base = {"service": {"telemetry": {"logs": {"level": "warn"}}}}
    remote = {"service": {"pipelines": {"logs": {"receivers": ["filelog"]}}}}
    assert merge(base, remote) == {
        "service": {"telemetry": {"logs": {"level": "warn"}}, "pipelines": {"logs": {"receivers": ["filelog"]}}}
    }


def test_the_remote_value_wins_for_scalars():
    assert merge({"processors": {"batch": {"timeout": "1s"}}}, {"processors": {"batch": {"timeout": "5s"}}}) == {
        "processors": {"batch": {"timeout": "5s"}}
    }


def test_lists_are_replaced_never_concatenated():
    base = {"service": {"pipelines": {"logs": {"receivers": ["otlp"]}}}}
    remote = {"service": {"pipelines": {"logs": {"receivers": ["filelog"]}}}}
    assert merge(base, remote)["service"]["pipelines"]["logs"]["receivers"] == ["filelog"]


def test_a_null_remote_value_replaces_a_base_mapping():
    # `batch:` with no value means "the component with its defaults" to the collector.
    assert merge({"processors": {"batch": {"timeout": "1s"}}}, {"processors": {"batch": None}}) == {
        "processors": {"batch": None}
    }


def test_keys_only_in_the_base_are_kept_and_the_inputs_are_not_modified():
    base = {"extensions": {"zpages": {}}, "service": {"extensions": ["zpages"]}}
    remote = {"service": {"pipelines": {}}}
    merged = merge(base, remote)
    assert merged["extensions"] == {"zpages": {}}
    assert base == {"extensions": {"zpages": {}}, "service": {"extensions": ["zpages"]}}
    assert remote == {"service": {"pipelines": {}}}


def test_a_remote_mapping_replaces_a_base_scalar():
    assert merge({"exporters": "none"}, {"exporters": {"otlphttp": {}}}) == {"exporters": {"otlphttp": {}}}


def test_a_config_that_is_not_a_mapping_is_refused_with_its_name():
    with pytest.raises(ConfigError, match="the remote config must be a YAML mapping, not a list"):
        parse_mapping("- a\n- b\n", "the remote config")


def test_invalid_yaml_is_refused():
    with pytest.raises(ConfigError, match="is not valid YAML"):
        parse_mapping("receivers: [\n", "the base config")


def test_only_a_config_with_a_pipeline_is_runnable_alone():
    assert not has_pipelines({"service": {"telemetry": {}}})
    assert has_pipelines({"service": {"pipelines": {"logs": {}}}})
