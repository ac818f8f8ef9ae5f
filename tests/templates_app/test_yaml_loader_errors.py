"""Values PyYAML parses but Python cannot build (dates, offsets, huge integers, surrogates) are located
validation errors, never exceptions; a fuzz test holds the loader to it for arbitrary YAML-ish text."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from templates_app.validation import validate_config
from templates_app.yaml_loader import ConfigYamlError, load_config_yaml

MAX = 1_000_000

# (text, line, column) of the offending value: each used to escape as ValueError or UnicodeEncodeError.
BAD_VALUES = {
    "month 13": ("receivers:\n  otlp:\n    since: 2020-13-45\n", 3, 12),
    "year 0": ("a: 0000-01-01\n", 1, 4),
    "February 30": ("a: 1\nb: 2020-02-30\n", 2, 4),
    "offset of 25 hours": ("a: 2020-01-01T00:00:00+25:00\n", 1, 4),
    "hour 25": ("a: 2020-01-01 25:61:61\n", 1, 4),
    "a date as a key": ("receivers:\n  2020-13-45: {}\n", 2, 3),
    "5,000 digits": ("a: " + "1" * 5000 + "\n", 1, 4),
    "hexadecimal of 5,000 digits": ("a:\n  - 0x" + "f" * 5000 + "\n", 2, 5),
    "sexagesimal of 3,001 parts": ("a: " + "1:" * 3000 + "1\n", 1, 4),
    "an escaped lone surrogate": ('exporters:\n  "debug/\\ud800": {}\n', 2, 3),
    "an escape beyond Unicode": ('a: "\\U00110000"\n', 1, 4),
    "a lone surrogate in the text": ("a: 1\nb: x\ud800y\n", 2, 5),
}


@pytest.mark.parametrize("name", BAD_VALUES)
def test_an_impossible_value_is_a_located_error(name):
    text, line, column = BAD_VALUES[name]
    with pytest.raises(ConfigYamlError) as caught:
        load_config_yaml(text, max_bytes=MAX)
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)
    assert str(caught.value).startswith(f"line {line}, column {column}: ")


def test_the_date_error_quotes_the_value_and_says_why():
    with pytest.raises(ConfigYamlError) as caught:
        load_config_yaml("a: 2020-13-45\n", max_bytes=MAX)
    assert caught.value.code == "yaml.value"
    assert "2020-13-45" in caught.value.message and "month must be in 1..12" in caught.value.message


def test_the_integer_error_gives_the_limit():
    with pytest.raises(ConfigYamlError) as caught:
        load_config_yaml("a: " + "9" * 5000 + "\n", max_bytes=MAX)
    assert "5000 digits" in caught.value.message and "4300" in caught.value.message
    assert len(caught.value.message) < 300  # the value itself is not repeated


def test_validation_reports_the_loader_error_with_its_position():
    result = validate_config("receivers:\n  otlp:\n    since: 2020-13-45\n")
    assert [(m.code, m.line, m.column) for m in result.errors] == [("yaml.value", 3, 12)]


def test_valid_dates_and_big_but_allowed_integers_still_load():
    loaded = load_config_yaml("a: 2020-12-31\nb: " + "7" * 4000 + "\n", max_bytes=MAX)
    assert loaded.data["a"].month == 12 and len(str(loaded.data["b"])) == 4000


# YAML-ish text: the pieces YAML's grammar is made of, including the ones that used to crash.
PIECES = st.sampled_from(
    [
        "\n",
        "  ",
        "    ",
        "- ",
        ": ",
        ":",
        "? ",
        ",",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: ",
        "#",
        "'",
        '"',
        "\\",
        "\\u",
        "\\ud800",
        "\\U00110000",
        "\\x",
        "|",
        ">",
        "---",
        "...",
        "%YAML 1.1\n",
        "!!int ",
        "!!float ",
        "!!timestamp ",
        "!!binary ",
        "!!set ",
        "!!omap ",
        "!!python/name:os ",
        "!x ",
        "receivers",
        "otlp",
        "service",
        "pipelines",
        "traces",
        "exporters",
        "debug/1",
        "~",
        "null",
        "yes",
        "0x",
        "0o",
        "0b",
        "1_0",
        "1:2:3",
        "-.inf",
        ".nan",
        "1e999",
        "9" * 4400,
        "2020-13-45",
        "0000-01-01",
        "2020-02-30",
        "2020-01-01T00:00:00+25:00",
        "2020-01-01 1:2:3.4 -99:00",
        "\t",
        "\x00",
        "\x85",
        "\u2028",
        "\ufeff",
        "\ud800",
        "\udfff",
        "é",
        "😀",
    ]  # fmt: skip
)
YAMLISH = st.one_of(st.lists(PIECES | st.text(max_size=3), max_size=40).map("".join), st.text(max_size=200))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_the_loader_never_lets_an_exception_escape(text):
    try:
        loaded = load_config_yaml(text, max_bytes=MAX)
    except ConfigYamlError as error:
        assert error.message and error.code.startswith("yaml.")
        assert error.line is None or (error.line >= 1 and error.column >= 1)
        # Shown on pages and stored: it must be encodable text.
        str(error).encode("utf-8")
    else:
        assert isinstance(loaded.data, dict)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_validation_answers_every_yamlish_text_with_messages(text):
    result = validate_config(text)
    for message in result.errors + result.warnings:
        # Every message can be stored (JSON, UTF-8) and rendered.
        message.message.encode("utf-8")
        message.path.encode("utf-8")


# Collector-shaped documents whose keys and values are odd (numbers, dates, nulls, bytes, lists as
# ids): the structure and component checks behind the loader answer them with messages too.
ODD = st.sampled_from(
    [
        "otlp",
        "debug/2",
        "1",
        "2020-01-01",
        "~",
        "yes",
        "[]",
        "{}",
        "!!binary aGk=",
        "'q'",
        '"\\ud83d\\ude00"',
        "",
        ".inf",
    ]
)
SECTIONS = st.sampled_from(["receivers", "processors", "exporters", "connectors", "extensions", "1", "~"])


@st.composite
def collector_shaped(draw):
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        lines.append(f"{draw(SECTIONS)}:")
        lines += [f"  {draw(ODD)}: {draw(ODD)}" for _ in range(draw(st.integers(0, 3)))]
    lines.append("service:")
    lines.append(f"  {draw(st.sampled_from(['pipelines', 'extensions', 'telemetry', '1']))}:")
    for _ in range(draw(st.integers(0, 3))):
        lines.append(f"    {draw(ODD)}:")
        roles = st.sampled_from(["receivers", "processors", "exporters", "1", "~"])
        lines += [f"      {draw(roles)}: {draw(ODD)}" for _ in range(draw(st.integers(0, 3)))]
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collector_shaped())
# Found by this test: a duplicate key made of surrogate escapes was quoted raw in the message.
@example('receivers:\n  "\\ud83d\\ude00": otlp\n  "\\ud83d\\ude00": otlp\nservice:\n  pipelines:\n')
def test_validation_answers_odd_collector_shaped_documents_with_messages(text):
    result = validate_config(text)
    for message in result.errors + result.warnings:
        message.message.encode("utf-8")
