"""Safe, bounded loading of collector YAML, with the line and column of every problem.

`load_config_yaml` is the only place FlowGate turns collector YAML into Python data. It refuses,
before building any Python object:

- documents over `max_bytes` (checked on the text, before the parser sees it);
- nesting deeper than MAX_DEPTH (PyYAML's composer is recursive: a deep document would otherwise
  end in a RecursionError);
- more than MAX_ALIASES alias uses, recursive aliases, and documents whose aliases would expand to
  more than MAX_EXPANDED_NODES nodes ("billion laughs"). Aliases are counted while the document is
  composed and the expanded size is computed on the node graph, where an alias is a shared
  reference: nothing is ever expanded;
- duplicate mapping keys (the collector's YAML parser refuses them too; PyYAML would silently keep
  the last one);
- anything but plain YAML types (SafeLoader: no Python tags);
- values YAML's grammar accepts but Python cannot build: impossible dates and times
  (2020-13-45, year 0, an offset of 25 hours), integers of more than MAX_INT_DIGITS digits
  (Python's int-str conversion limit), lone surrogates (in the text or as escapes) and escapes
  beyond Unicode. They used to escape as ValueError or UnicodeEncodeError (a 500 on every front door).

Errors are ConfigYamlError with a 1-based line and column when known. Nothing else escapes
`load_config_yaml` for any text (tests/templates_app/test_yaml_loader_errors.py fuzzes it).
"""

import math
import re
from dataclasses import dataclass

import yaml

MAX_DEPTH = 64
MAX_ALIASES = 1000
MAX_EXPANDED_NODES = 200_000
# How deep `positions` indexes the document: enough for service.pipelines.<id>.<role>[i].
POSITION_DEPTH = 5

MERGE_TAG = "tag:yaml.org,2002:merge"
# Python refuses to convert longer integers to and from decimal text (sys.get_int_max_str_digits()).
MAX_INT_DIGITS = 4300
MAX_INT_BITS = math.ceil(MAX_INT_DIGITS * math.log2(10))
VALUE_KINDS = {
    "tag:yaml.org,2002:timestamp": "date or time",
    "tag:yaml.org,2002:int": "integer",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:binary": "base64 value",
}
# What PyYAML's constructors raise for a value their regular expressions let through (or that an
# explicit tag forces on them: `!!timestamp x`, `!!int ''`).
CONSTRUCTION_ERRORS = (ValueError, OverflowError, TypeError, AttributeError, IndexError, KeyError)
SURROGATE = re.compile("[\ud800-\udfff]")
EXCERPT_CHARS = 40


class ConfigYamlError(Exception):
    """A document FlowGate will not load. `code` names the rule (yaml.syntax, yaml.size, ...)."""

    def __init__(self, code, message, line=None, column=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column

    def __str__(self):
        if self.line is None:
            return self.message
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass
class LoadedYaml:
    """The parsed document and where its first few levels of keys and items are in the text."""

    data: object
    positions: dict  # path tuple -> (line, column), 1-based


def _error_at(code, message, mark):
    if mark is None:
        return ConfigYamlError(code, message)
    return ConfigYamlError(code, message, mark.line + 1, mark.column + 1)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and counts aliases while composing."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth = 0
        self.alias_count = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise _error_at(
                    "yaml.aliases",
                    f"The document uses more than {MAX_ALIASES} aliases (*name); FlowGate refuses it unexpanded.",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _error_at(
                    "yaml.depth",
                    f"The document is nested more than {MAX_DEPTH} levels deep.",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def scan_flow_scalar(self, style):
        start_mark = self.get_mark()
        try:
            return super().scan_flow_scalar(style)
        except ValueError:
            # chr() of an escape such as "\U00110000": there is no such character.
            message = "A quoted string here has an escape beyond Unicode (the last character is U+10FFFF)."
            raise _error_at("yaml.syntax", message, start_mark) from None

    def construct_object(self, node, deep=False):
        """Build one node; a value Python cannot represent is a ConfigYamlError at the node."""
        try:
            value = super().construct_object(node, deep)
        except CONSTRUCTION_ERRORS as exc:
            raise _error_at("yaml.value", _value_problem(node, exc), node.start_mark) from None
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
            raise _error_at("yaml.value", _too_many_digits(node), node.start_mark)
        if isinstance(value, str) and SURROGATE.search(value):
            code = ord(SURROGATE.search(value).group())
            message = f"The string {_excerpt(node)} holds U+{code:04X}, a lone surrogate, which is not a character."
            raise _error_at("yaml.value", message, node.start_mark)
        return value


def _excerpt(node):
    """The node's text, short and printable (lone surrogates escaped), for a message."""
    text = node.value if isinstance(node.value, str) else ""
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "…"
    return "'" + text.encode("utf-8", "backslashreplace").decode("utf-8") + "'"


def _too_many_digits(node):
    digits = node.value.replace("_", "").lstrip("+-") if isinstance(node.value, str) else ""
    if digits.isdigit():
        return f"This integer has {len(digits)} digits; at most {MAX_INT_DIGITS} are allowed."
    return f"This integer is too large: written in decimal it would have more than {MAX_INT_DIGITS} digits."


def _value_problem(node, exc):
    if node.tag == "tag:yaml.org,2002:int" and "digits" in str(exc):
        return _too_many_digits(node)
    kind = VALUE_KINDS.get(node.tag, "value")
    if isinstance(exc, (ValueError, OverflowError)):
        return f"{_excerpt(node)} is not a valid {kind}: {exc}."
    return f"{_excerpt(node)} is not a valid {kind}."  # the exception names PyYAML's internals


def _children(node):
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


class _GraphCheck:
    """One pass over the composed node graph (aliases are shared nodes, not copies).

    Computes each node's expanded size and height once (memoised), so an alias bomb costs as many
    steps as it has distinct nodes; finds recursive aliases and duplicate keys.
    """

    def __init__(self):
        self.done = {}  # id(node) -> (expanded size, height)
        self.visiting = set()

    def measure(self, node, depth=1):
        if depth > MAX_DEPTH:
            raise _too_deep(node)
        key = id(node)
        if key in self.visiting:
            raise _error_at(
                "yaml.aliases", "The document contains a recursive alias (an anchor inside itself).", node.start_mark
            )
        if key not in self.done:
            self.visiting.add(key)
            if isinstance(node, yaml.MappingNode):
                _check_duplicate_keys(node)
            size, height = 1, 0
            for child in _children(node):
                child_size, child_height = self.measure(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
            self.visiting.discard(key)
            self.done[key] = (size, height)
        size, height = self.done[key]
        if size > MAX_EXPANDED_NODES:
            raise _error_at(
                "yaml.aliases",
                f"The document's aliases would expand to more than {MAX_EXPANDED_NODES} nodes "
                "(an alias bomb?); FlowGate refuses it unexpanded.",
                node.start_mark,
            )
        if depth + height > MAX_DEPTH:
            raise _too_deep(node)
        return size, height


def _too_deep(node):
    return _error_at(
        "yaml.depth",
        f"With its aliases expanded, the document is nested more than {MAX_DEPTH} levels deep.",
        node.start_mark,
    )


def _check_duplicate_keys(node):
    seen = {}
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            first = seen[key]
            where = f"line {first.line + 1}, column {first.column + 1}"
            message = f"Duplicate key {_excerpt(key_node)} (first defined at {where})."
            raise _error_at("yaml.duplicate_key", message, key_node.start_mark)
        seen[key] = key_node.start_mark


def _index_positions(node, path, positions):
    """path -> (line, column) for mapping keys and sequence items down to POSITION_DEPTH."""
    if len(path) >= POSITION_DEPTH:
        return
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != MERGE_TAG:
                child = (*path, key_node.value)
                positions.setdefault(child, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
                _index_positions(value_node, child, positions)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            positions.setdefault(child, (item.start_mark.line + 1, item.start_mark.column + 1))
            _index_positions(item, child, positions)


def _syntax_error(exc, text):
    """A ConfigYamlError for one of PyYAML's errors, with a 1-based line and column."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and message.startswith("but "):
            message = f"{exc.context}, {message}"  # "expected a single document in the stream, but found another"
        return _error_at("yaml.syntax", message, mark)
    if isinstance(exc, yaml.reader.ReaderError):
        # Reader errors (e.g. control characters) carry a character offset, not a mark.
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        return ConfigYamlError("yaml.syntax", f"{exc.reason} (character #x{exc.character:04x})", line, column)
    return ConfigYamlError("yaml.syntax", f"invalid YAML: {exc}")


def check_size(text, max_bytes):
    """Refuse text over `max_bytes` (UTF-8) before anything parses it."""
    if not isinstance(text, str):
        raise ConfigYamlError("yaml.type", "Give the configuration as YAML text.")
    # surrogatepass: a lone surrogate is not counted as an error here but located by the reader.
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ConfigYamlError("yaml.size", f"The configuration is {size} bytes; the limit is {max_bytes} bytes.")


def load_config_yaml(text, *, max_bytes):
    """Parse one YAML document within the limits above and return a LoadedYaml.

    The document must be a mapping at the top level. Raises ConfigYamlError.
    """
    check_size(text, max_bytes)
    try:
        loader = _BoundedLoader(text)  # the reader refuses control characters right here
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _GraphCheck().measure(node)
            data = loader.construct_document(node)
        else:
            data = None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text)
    except (ValueError, OverflowError, TypeError) as exc:
        # Anything the rules above did not foresee is still a located error, never a 500.
        raise _error_at("yaml.syntax", f"This cannot be read as YAML: {exc}", loader.get_mark()) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        message = f"The configuration must be a YAML mapping (receivers:, exporters:, ...), not {kind}."
        raise _error_at("yaml.not_mapping", message, node.start_mark if node is not None else None)
    positions = {}
    _index_positions(node, (), positions)
    return LoadedYaml(data=data, positions=positions)
