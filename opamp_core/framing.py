"""OpAMP message framing: the WebSocket header and protobuf (de)serialisation for both transports.

A WebSocket binary message is a varint-encoded 64-bit `header` (0 in this version of the
spec) followed by the protobuf bytes; the plain-HTTP body is the protobuf bytes alone.
Plain Python: the gateway supervisor uses the same functions as the server.
"""

from google.protobuf.message import DecodeError, Message

from opamp_core.proto import opamp_pb2

HEADER = 0
MAX_HEADER_BYTES = 10  # a 64-bit varint never needs more
# The spec recommends 64 MiB as the default limit for received and sent messages.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class FramingError(ValueError):
    """The bytes are not a valid OpAMP message; the transport answers BAD_REQUEST or closes."""


class MessageTooBig(FramingError):
    """Over the size limit: WebSocket closes with 1009, HTTP answers 413."""


def encode_varint(value: int) -> bytes:
    """Base-128 varint of an unsigned 64-bit integer (least significant group first)."""
    if not 0 <= value < 1 << 64:
        raise ValueError("varint must be an unsigned 64-bit integer")
    out = bytearray()
    while True:
        group = value & 0x7F
        value >>= 7
        if value:
            out.append(group | 0x80)
        else:
            out.append(group)
            return bytes(out)


def decode_varint(data: bytes) -> tuple[int, int]:
    """(value, number of bytes used) of the varint at the start of `data`."""
    value = 0
    for index, byte in enumerate(data[:MAX_HEADER_BYTES]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if value >= 1 << 64:
                raise FramingError("header varint exceeds 64 bits")
            return value, index + 1
    if len(data) >= MAX_HEADER_BYTES:
        raise FramingError(f"header varint is longer than {MAX_HEADER_BYTES} bytes")
    raise FramingError("message ends inside the header varint")


def encode(message: Message, max_size: int = DEFAULT_MAX_MESSAGE_BYTES) -> bytes:
    """A WebSocket message: header 0 then the serialised protobuf. MessageTooBig over max_size."""
    data = encode_varint(HEADER) + message.SerializeToString()
    if len(data) > max_size:
        raise MessageTooBig(f"message of {len(data)} bytes exceeds the {max_size}-byte limit")
    return data


def decode(data: bytes, message_type=opamp_pb2.AgentToServer, max_size: int = DEFAULT_MAX_MESSAGE_BYTES, check=None):
    """Parse a WebSocket message into `message_type` (AgentToServer by default).

    Raises MessageTooBig over max_size, FramingError for a truncated or non-zero header (the
    spec reserves other values: such a message is malformed) or for bytes that are not a valid
    protobuf. An empty protobuf part is valid: a message with every field unset. `check`, when
    given, is called with the protobuf bytes before they are parsed (see parse()).
    """
    if len(data) > max_size:
        raise MessageTooBig(f"message of {len(data)} bytes exceeds the {max_size}-byte limit")
    header, used = decode_varint(data)
    if header != HEADER:
        raise FramingError(f"unsupported header {header}: only 0 is defined")
    return parse(data[used:], message_type, check=check)


def parse(data: bytes, message_type=opamp_pb2.AgentToServer, max_size: int = DEFAULT_MAX_MESSAGE_BYTES, check=None):
    """Parse protobuf bytes without header (a plain-HTTP body). Errors as for decode().

    `check(data)` runs first when given: it may refuse the bytes with a FramingError before the
    parser spends time on them (the transports pass opamp_core.bounds.check).
    """
    if len(data) > max_size:
        raise MessageTooBig(f"message of {len(data)} bytes exceeds the {max_size}-byte limit")
    if check is not None:
        check(data)
    message = message_type()
    try:
        message.ParseFromString(bytes(data))
    except DecodeError as exc:
        raise FramingError(f"invalid {message_type.DESCRIPTOR.name} protobuf: {exc}") from exc
    return message
