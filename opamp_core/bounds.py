"""Bounds on what one AgentToServer may carry, checked on its bytes before they are parsed.

Plain Python (generated protobuf descriptors + stdlib). Why on the bytes: the protobuf parser
is C code that holds the GIL, so a report of 150,000 health components cost the event loop
0.2 s to parse (and 0.9 s more to convert) whatever thread parsed it. This walk counts the
elements of a report with Python code (which a worker thread interleaves with the event loop)
and stops at the first bound exceeded, after at most that bound's worth of work; only a report
within every bound reaches the parser. The transports call check() through framing.parse().

The bounds (`convert.Limits`, settings FLOWGATE_OPAMP_MAX_*, docs/security.md "OpAMP report
bounds"): health components and depth, attribute values per attribute list (nested ones
included), available components, and sub-messages of any kind. A report over one is refused
whole (ReportRefused, answered BAD_REQUEST naming the bound): a tree cut at an arbitrary place
would be stored as if it were the agent's. The effective config is not counted here (a single
bytes field costs nothing to parse); convert.effective_config() cuts the stored text instead.
"""

from google.protobuf.descriptor import FieldDescriptor

from opamp_core.convert import Limits
from opamp_core.framing import FramingError
from opamp_core.proto import anyvalue_pb2, opamp_pb2

# The protobuf parser's own nesting limit: the walk leaves deeper messages to it (it refuses
# them), long before Python's recursion limit.
MAX_NESTING = 100

_KEY_VALUE = anyvalue_pb2.KeyValue.DESCRIPTOR
_ARRAY_VALUE = anyvalue_pb2.ArrayValue.DESCRIPTOR
_HEALTH = opamp_pb2.ComponentHealth.DESCRIPTOR
_DETAILS = opamp_pb2.ComponentDetails.DESCRIPTOR
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
# The messages a value of an attribute is made of.
_VALUE_TYPES = {
    descriptor.full_name
    for descriptor in (
        anyvalue_pb2.AnyValue.DESCRIPTOR,
        anyvalue_pb2.ArrayValue.DESCRIPTOR,
        anyvalue_pb2.KeyValueList.DESCRIPTOR,
        anyvalue_pb2.KeyValue.DESCRIPTOR,
    )
}


class ReportRefused(FramingError):
    """The report exceeds a bound: answered BAD_REQUEST. sequence_num: the report's, when it could be read."""

    def __init__(self, reason: str, sequence_num: int | None = None):
        super().__init__(reason)
        self.sequence_num = sequence_num


class _Malformed(Exception):
    """The bytes are not a valid protobuf: the walk stops and leaves the error message to the parser."""


class _Count:
    """One bound being counted: refuses the report once `used` exceeds `limit`."""

    def __init__(self, limit: int, what: str, setting: str):
        self.used, self.limit, self.what, self.setting = 0, limit, what, setting

    def add(self) -> None:
        self.used += 1
        if self.used > self.limit:
            raise ReportRefused(f"{self.what} exceeds the limit of {self.limit} ({self.setting})")


def check(data: bytes, limits: Limits) -> None:
    """Raise ReportRefused if the AgentToServer in `data` exceeds a bound of `limits`.

    Malformed bytes pass (the parser refuses them, with its own message); a valid report within
    bounds passes whatever fields it has, known or not.
    """
    walk = _Walk(data, limits)
    try:
        walk.message(0, len(data), opamp_pb2.AgentToServer.DESCRIPTOR, "report", depth=0)
    except _Malformed:
        return
    except ReportRefused as refused:
        refused.sequence_num = _sequence_num(data)
        raise


class _Walk:
    def __init__(self, data: bytes, limits: Limits):
        self.data, self.limits = memoryview(data), limits
        self.messages = _Count(limits.messages, "the report's number of sub-messages", "FLOWGATE_OPAMP_MAX_MESSAGES")
        self.health = _Count(
            limits.health_components, "the health report's number of components", "FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS"
        )
        self.components = _Count(
            limits.available_components,
            "available_components' number of components",
            "FLOWGATE_OPAMP_MAX_AVAILABLE_COMPONENTS",
        )

    def message(self, pos: int, end: int, descriptor, where: str, depth: int, attributes=None, health_level=0):
        """Walk the fields of one message in data[pos:end]."""
        if depth > MAX_NESTING:
            raise _Malformed
        lists = {}
        data = self.data
        while pos < end:
            tag, pos = _varint(data, pos, end)
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                _, pos = _varint(data, pos, end)
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = _varint(data, pos, end)
                field = descriptor.fields_by_number.get(number)
                if field is not None and field.type == _MESSAGE:
                    self.field(pos, pos + length, field, descriptor, where, depth, lists, attributes, health_level)
                pos += length
            else:
                raise _Malformed
            if pos > end:
                raise _Malformed

    def field(self, pos, end, field, parent, where, depth, lists, attributes, health_level):
        """One occurrence of a message-typed field: count it against the bounds it falls under."""
        self.messages.add()
        sub = field.message_type
        if sub is _KEY_VALUE or (parent is _ARRAY_VALUE and attributes is not None):
            if attributes is None:  # a pair of an attribute list of `parent`: one count per list
                attributes = lists.get(field.number)
                if attributes is None:
                    what = f"{where}.{field.name}'s number of values"
                    attributes = lists[field.number] = _Count(
                        self.limits.attributes, what, "FLOWGATE_OPAMP_MAX_ATTRIBUTES"
                    )
            attributes.add()
        elif sub.full_name not in _VALUE_TYPES:
            attributes = None  # values nested in a pair count for its list; nothing else does
        if sub is _HEALTH:
            health_level += 1
            if health_level > 1:
                self.health.add()
            if health_level > self.limits.health_depth:
                raise ReportRefused(
                    f"the health report is deeper than {self.limits.health_depth} levels "
                    "(FLOWGATE_OPAMP_MAX_HEALTH_DEPTH)"
                )
        elif sub is _DETAILS:
            self.components.add()
        child_where = field.name if depth == 0 else where
        self.message(pos, end, sub, child_where, depth + 1, attributes, health_level)


def _varint(data, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _sequence_num(data) -> int | None:
    """AgentToServer.sequence_num (field 2) read from the bytes, or None."""
    view, pos, end, found = memoryview(data), 0, len(data), None
    try:
        while pos < end:
            tag, pos = _varint(view, pos, end)
            wire = tag & 7
            if wire == 0:
                value, pos = _varint(view, pos, end)
                if tag >> 3 == 2:
                    found = value
            elif wire == 2:
                length, pos = _varint(view, pos, end)
                pos += length
            else:
                pos += 8 if wire == 1 else 4
    except _Malformed:
        return found
    return found
