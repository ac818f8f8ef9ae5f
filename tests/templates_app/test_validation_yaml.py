"""Validation, step 1: loading YAML safely, within limits, with line and column."""

import time

from templates_app.validation import validate_config

from .validation_helpers import VALID, only_error


def billion_laughs(levels=10, fan_out=10):
    """The classic alias bomb: each level holds `fan_out` aliases of the level below (10^10 leaves)."""
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels):
        aliases = ", ".join([f"*lol{level - 1}"] * fan_out)
        lines.append(f"lol{level}: &lol{level} [{aliases}]")
    return "\n".join(lines) + "\n"


class TestLimits:
    def test_an_alias_bomb_is_rejected_fast_and_named_as_aliases(self):
        started = time.perf_counter()
        error = only_error(billion_laughs())
        # Well under a second: the bomb is measured on its node graph, never expanded.
        assert time.perf_counter() - started < 0.5
        assert error.code == "yaml.aliases"
        assert "aliases would expand to more than" in error.message
        assert error.line is not None

    def test_an_alias_bomb_hidden_in_a_component_is_rejected_too(self):
        bomb = billion_laughs().replace("\n", "\n  ").rstrip()
        error = only_error(f"receivers:\n  {bomb}\n")
        assert error.code == "yaml.aliases"

    def test_a_recursive_alias_is_rejected(self):
        error = only_error("receivers: &loop\n  otlp: *loop\n")
        assert (error.code, "recursive alias" in error.message) == ("yaml.aliases", True)

    def test_too_many_aliases_are_rejected_even_when_small(self):
        text = "a: &a 1\nb: [" + ", ".join(["*a"] * 1001) + "]\n"
        error = only_error(text)
        assert "more than 1000 aliases" in error.message

    def test_a_10_mb_document_gets_a_clear_size_message(self):
        text = "receivers:\n" + "  # padding\n" * (10 * 1024 * 1024 // 12)
        started = time.perf_counter()
        error = only_error(text)
        assert time.perf_counter() - started < 0.5  # refused before any parsing
        assert error.code == "yaml.size"
        assert error.message == f"The configuration is {len(text)} bytes; the limit is 1048576 bytes."

    def test_the_size_limit_comes_from_settings(self, settings):
        settings.FLOWGATE_MAX_CONFIG_BYTES = 64
        assert only_error(VALID).message.endswith("the limit is 64 bytes.")

    def test_deep_nesting_is_rejected_with_its_position(self):
        error = only_error("a: " + "[" * 100 + "]" * 100 + "\n")
        assert error.code == "yaml.depth"
        assert (error.line, error.column) == (1, 67)  # the 64th "[" opens the 65th level (the mapping is the 1st)

    def test_a_few_anchors_and_merge_keys_are_fine(self):
        text = VALID.replace("  otlphttp:\n", "  otlphttp: &base\n").replace(
            "4318\n", "4318\n  otlphttp/b:\n    <<: *base\n    compression: zstd\n"
        )
        text = text.replace("exporters: [otlphttp]", "exporters: [otlphttp, otlphttp/b]")
        assert validate_config(text).valid


class TestDuplicateKeys:
    def test_a_duplicate_key_is_an_error_at_the_second_key(self):
        text = "receivers:\n  otlp: {}\n  otlp:\n    protocols: {}\n"
        error = only_error(text)
        assert (error.code, error.line, error.column) == ("yaml.duplicate_key", 3, 3)
        assert error.message == "Duplicate key 'otlp' (first defined at line 2, column 3)."

    def test_a_key_overriding_a_merged_key_is_not_a_duplicate(self):
        text = VALID.replace("  batch: {}\n", "  batch: &b {timeout: 1s}\n  batch/2:\n    <<: *b\n    timeout: 2s\n")
        assert validate_config(text).valid


class TestSyntax:
    def test_a_syntax_error_has_line_and_column(self):
        error = only_error("receivers:\n  otlp: {}\nexporters: [debug\nservice: {}\n")
        assert (error.code, error.line, error.column) == ("yaml.syntax", 4, 8)

    def test_python_tags_are_refused(self):
        error = only_error("receivers: !!python/object/apply:os.system ['true']\n")
        assert (error.code, error.line, error.column) == ("yaml.syntax", 1, 12)

    def test_a_list_is_not_a_config(self):
        error = only_error("- receivers\n")
        assert error.code == "yaml.not_mapping"

    def test_a_document_that_fails_to_load_sets_the_parse_error(self):
        result = validate_config("a: [\n")
        assert result.parse_error is not None
        assert str(result.parse_error).startswith("line 2, column 1: ")
