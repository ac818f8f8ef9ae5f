"""Property: any valid AgentToServer within the report bounds is stored and answered normally.

Reports are built by hypothesis from text with NUL and any other non-surrogate character
(protobuf strings are UTF-8), long strings, NaN and infinite doubles, and integers up to
2**64 - 1. Each goes through the plain-HTTP transport (the WebSocket one shares the
conversion and the writes) into PostgreSQL; none may be answered UNAVAILABLE or fail.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways_app.models import Gateway
from opamp_core.proto import anyvalue_pb2, opamp_pb2

pytestmark = pytest.mark.django_db(transaction=True)

UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=95, max_size=300),
    st.sampled_from(["\x00", "a\x00b", "\x00" * 300]),
)


def any_values():
    scalars = st.one_of(
        TEXT.map(lambda text: anyvalue_pb2.AnyValue(string_value=text)),
        st.booleans().map(lambda flag: anyvalue_pb2.AnyValue(bool_value=flag)),
        INT64.map(lambda number: anyvalue_pb2.AnyValue(int_value=number)),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda number: anyvalue_pb2.AnyValue(double_value=number)),
        st.binary(max_size=20).map(lambda data: anyvalue_pb2.AnyValue(bytes_value=data)),
    )

    def nested(children):
        arrays = st.lists(children, max_size=3).map(
            lambda items: anyvalue_pb2.AnyValue(array_value=anyvalue_pb2.ArrayValue(values=items))
        )
        kvlists = st.lists(st.tuples(TEXT, children), max_size=3).map(
            lambda pairs: anyvalue_pb2.AnyValue(kvlist_value=anyvalue_pb2.KeyValueList(values=key_values(pairs)))
        )
        return st.one_of(arrays, kvlists)

    return st.recursive(scalars, nested, max_leaves=6)


def key_values(pairs):
    return [anyvalue_pb2.KeyValue(key=key, value=value) for key, value in pairs]


ATTRIBUTES = st.lists(st.tuples(TEXT, any_values()), max_size=4).map(key_values)
WELL_KNOWN = st.lists(
    st.tuples(st.sampled_from(["service.name", "service.version", "host.name"]), TEXT),
    max_size=3,
).map(lambda pairs: key_values([(key, anyvalue_pb2.AnyValue(string_value=value)) for key, value in pairs]))


@st.composite
def health_trees(draw, depth=0):
    health = opamp_pb2.ComponentHealth(
        healthy=draw(st.booleans()),
        start_time_unix_nano=draw(UINT64),
        last_error=draw(TEXT),
        status=draw(TEXT),
        status_time_unix_nano=draw(UINT64),
        attributes=draw(ATTRIBUTES),
    )
    if depth < 2:
        for name in draw(st.lists(TEXT, max_size=3)):
            health.component_health_map[name].CopyFrom(draw(health_trees(depth + 1)))
    return health


@st.composite
def reports(draw, uid):
    message = opamp_pb2.AgentToServer(instance_uid=uid, sequence_num=draw(UINT64), capabilities=draw(UINT64))
    if draw(st.booleans()):
        message.agent_description.identifying_attributes.extend(draw(WELL_KNOWN))
        message.agent_description.non_identifying_attributes.extend(draw(ATTRIBUTES))
    if draw(st.booleans()):
        message.health.CopyFrom(draw(health_trees()))
    if draw(st.booleans()):
        body = draw(st.one_of(st.binary(max_size=200), TEXT.map(str.encode)))
        message.effective_config.config_map.config_map[draw(TEXT)].body = body
    if draw(st.booleans()):
        status = message.remote_config_status
        status.last_remote_config_hash = draw(st.binary(max_size=80))
        status.status = draw(st.integers(min_value=0, max_value=3))
        status.error_message = draw(TEXT)
    if draw(st.booleans()):
        message.available_components.hash = draw(st.binary(max_size=40))
        for name in draw(st.lists(TEXT, max_size=3)):
            message.available_components.components[name].metadata.extend(draw(ATTRIBUTES))
    return message


UID = bytes(range(16))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=reports(UID))
def test_any_report_within_bounds_is_stored_and_answered_normally(client, token, gateway, message):
    response = client.post(
        "/v1/opamp",
        message.SerializeToString(),
        content_type="application/x-protobuf",
        headers={"Authorization": f"Bearer {token}"},
    )
    reply = opamp_pb2.ServerToAgent.FromString(response.content)
    assert response.status_code == 200, reply.error_response
    assert not reply.HasField("error_response")
    row = Gateway.objects.get(pk=gateway.pk)
    if message.capabilities:
        assert row.capabilities == message.capabilities
    if message.HasField("health"):
        assert row.health["healthy"] is message.health.healthy
        assert "\x00" not in row.health["last_error"]
    if message.HasField("remote_config_status"):
        assert "\x00" not in row.remote_config_error
