"""WebSocket framing of OpAMP messages: varint header 0, then protobuf bytes."""

import pytest

from opamp_core import framing
from opamp_core.proto import opamp_pb2


def agent_message():
    message = opamp_pb2.AgentToServer(instance_uid=bytes(range(16)), sequence_num=300, capabilities=1)
    message.effective_config.config_map.config_map[""].body = b"receivers: {}\n"
    return message


def test_a_message_survives_the_round_trip():
    message = agent_message()
    assert framing.decode(framing.encode(message)) == message


def test_a_server_message_decodes_as_server_to_agent():
    reply = opamp_pb2.ServerToAgent(instance_uid=bytes(16), capabilities=7)
    assert framing.decode(framing.encode(reply), opamp_pb2.ServerToAgent) == reply


def test_the_header_is_a_single_zero_byte_before_the_protobuf():
    message = agent_message()
    assert framing.encode(message) == b"\x00" + message.SerializeToString()


def test_an_empty_protobuf_part_is_a_valid_empty_message():
    # Spec: a message with every field unset encodes to 0 bytes after the header.
    assert framing.decode(b"\x00") == opamp_pb2.AgentToServer()


@pytest.mark.parametrize("header", [1, 300])
def test_it_rejects_a_non_zero_header(header):
    data = framing.encode_varint(header) + agent_message().SerializeToString()
    with pytest.raises(framing.FramingError, match=f"unsupported header {header}"):
        framing.decode(data)


def test_it_rejects_a_message_that_ends_inside_the_header():
    with pytest.raises(framing.FramingError, match="inside the header"):
        framing.decode(b"\x80")


def test_it_rejects_an_empty_websocket_message():
    with pytest.raises(framing.FramingError):
        framing.decode(b"")


def test_it_rejects_a_header_longer_than_ten_bytes():
    with pytest.raises(framing.FramingError, match="longer than 10 bytes"):
        framing.decode(b"\x80" * 11 + b"\x00")


def test_it_rejects_a_truncated_protobuf():
    data = framing.encode(agent_message())
    with pytest.raises(framing.FramingError, match="invalid AgentToServer protobuf"):
        framing.decode(data[:-3])  # cut inside the config body


def test_it_rejects_a_message_over_the_size_limit():
    data = framing.encode(agent_message())
    with pytest.raises(framing.MessageTooBig):
        framing.decode(data, max_size=len(data) - 1)


def test_it_refuses_to_encode_a_message_over_the_size_limit():
    with pytest.raises(framing.MessageTooBig):
        framing.encode(agent_message(), max_size=10)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 16383, 16384, 2**63, 2**64 - 1])
def test_varints_round_trip(value):
    encoded = framing.encode_varint(value)
    assert framing.decode_varint(encoded + b"rest") == (value, len(encoded))


def test_a_plain_http_body_parses_without_header():
    message = agent_message()
    assert framing.parse(message.SerializeToString()) == message
