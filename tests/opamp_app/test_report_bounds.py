"""What one OpAMP report may carry (docs/security.md "OpAMP report bounds").

A report over a count is answered BAD_REQUEST naming the bound and its setting, and is not
asked for again; an effective config over its size is stored cut, with a comment saying so.
The bounds are checked on the bytes (opamp_core/bounds.py), before the protobuf parser runs.
"""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from gateways_app.models import Gateway
from opamp_core import bounds
from opamp_core.convert import Limits, config_hash
from opamp_core.proto import anyvalue_pb2, opamp_pb2
from tests.opamp_app.peer import BASE_CAPS, Agent, description, effective_config, kv
from tests.opamp_app.transports import over_http, over_websocket

SMALL = Limits(attributes=5, health_components=5, health_depth=3, available_components=5, messages=60)


def health_of(components, depth=1):
    """A health tree: `components` children of the root, each `depth - 1` levels deep."""
    root = opamp_pb2.ComponentHealth(healthy=True)
    for index in range(components):
        node = root.component_health_map[f"c{index}"]
        for level in range(depth - 2):
            node = node.component_health_map[f"l{level}"]
    return root


def with_attributes(count, nested=0):
    report = opamp_pb2.AgentDescription(identifying_attributes=[kv(f"k{index}", "v") for index in range(count)])
    if nested:
        pair = report.non_identifying_attributes.add(key="list")
        pair.value.array_value.values.extend(anyvalue_pb2.AnyValue(int_value=index) for index in range(nested))
    return report


def components_of(count):
    available = opamp_pb2.AvailableComponents(hash=b"h")
    for index in range(count):
        available.components["receivers"].sub_component_map[f"r{index}"].SetInParent()
    return available


# (fields of a report over a bound, the setting named in the error); AT: the same at the bound, which passes.
# Sub-messages: the PackageStatuses, then per package its map entry and its value (1 + 2 * 29 = 59 of 60).
OVER = {
    "health components": ({"health": health_of(6)}, "FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS"),
    "health depth": ({"health": health_of(1, depth=4)}, "FLOWGATE_OPAMP_MAX_HEALTH_DEPTH"),
    "description attributes": ({"agent_description": with_attributes(6)}, "FLOWGATE_OPAMP_MAX_ATTRIBUTES"),
    "nested attribute values": ({"agent_description": with_attributes(1, nested=5)}, "FLOWGATE_OPAMP_MAX_ATTRIBUTES"),
    "available components": ({"available_components": components_of(5)}, "FLOWGATE_OPAMP_MAX_AVAILABLE_COMPONENTS"),
    "sub-messages": (
        {
            "package_statuses": opamp_pb2.PackageStatuses(
                packages={f"p{i}": opamp_pb2.PackageStatus() for i in range(30)}
            )
        },
        "FLOWGATE_OPAMP_MAX_MESSAGES",
    ),
}
AT = {
    "health components": {"health": health_of(5)},
    "health depth": {"health": health_of(1, depth=3)},
    "description attributes": {"agent_description": with_attributes(5)},
    "nested attribute values": {"agent_description": with_attributes(0, nested=4)},
    "available components": {"available_components": components_of(4)},
    "sub-messages": {
        "package_statuses": opamp_pb2.PackageStatuses(packages={f"p{i}": opamp_pb2.PackageStatus() for i in range(29)})
    },
}


def report(**fields):
    return opamp_pb2.AgentToServer(instance_uid=uuid.uuid4().bytes, sequence_num=7, **fields)


@pytest.mark.parametrize("bound", OVER)
def test_a_report_over_a_bound_is_refused_naming_its_setting(bound):
    fields, setting = OVER[bound]
    with pytest.raises(bounds.ReportRefused) as refused:
        bounds.check(report(**fields).SerializeToString(), SMALL)
    assert setting in str(refused.value)
    assert refused.value.sequence_num == 7


@pytest.mark.parametrize("bound", AT)
def test_a_report_at_a_bound_passes(bound):
    bounds.check(report(**AT[bound]).SerializeToString(), SMALL)


def test_the_attribute_bound_counts_each_list_on_its_own():
    health = health_of(3)
    for node in health.component_health_map.values():
        node.attributes.extend(kv(f"k{index}", "v") for index in range(5))
    bounds.check(report(health=health).SerializeToString(), SMALL)


def test_malformed_bytes_are_left_to_the_parser():
    bounds.check(b"\n\x10\x01", SMALL)  # a field running past the end: the parser says so


@pytest.fixture
def small_bounds(settings):
    settings.FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS = 5
    settings.FLOWGATE_OPAMP_MAX_EFFECTIVE_CONFIG_BYTES = 1000


@pytest.fixture(params=["websocket", "http"])
def exchange(request, token, client):
    if request.param == "websocket":
        return lambda *messages: over_websocket(token, messages)
    return lambda *messages: over_http(token, messages, client)


@pytest.mark.django_db(transaction=True)
def test_a_transport_answers_a_report_over_a_bound_with_bad_request_once(exchange, small_bounds, gateway):
    agent = Agent(capabilities=BASE_CAPS | opamp_pb2.AgentCapabilities_ReportsHealth)
    over, heartbeat = exchange(agent.message(agent_description=description(), health=health_of(6)), agent.message())
    assert over.error_response.type == opamp_pb2.ServerErrorResponseType_BadRequest
    assert "FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS" in over.error_response.error_message
    assert Gateway.objects.get(pk=gateway.pk).health == {}
    # Answered once: the next message is processed, and its reply does not ask for the report again.
    assert not heartbeat.HasField("error_response")
    assert not heartbeat.flags & opamp_pb2.ServerToAgentFlags_ReportFullState


@pytest.mark.django_db(transaction=True)
def test_an_effective_config_over_its_size_is_stored_cut_with_a_comment(exchange, small_bounds, gateway):
    config = "".join(f"# line {index:04d} of the effective config\n" for index in range(100))
    (reply,) = exchange(Agent().message(effective_config=effective_config(config)))
    assert not reply.HasField("error_response")
    row = Gateway.objects.get(pk=gateway.pk)
    kept, marker = row.effective_config.rsplit("\n# ", 1)
    assert config.startswith(kept + "\n") and len(kept.encode()) <= 1000
    assert "FLOWGATE_OPAMP_MAX_EFFECTIVE_CONFIG_BYTES" in marker
    assert row.effective_config_hash == config_hash(config)  # of what the agent runs: drift stays true


@pytest.mark.process
def test_the_bounds_import_without_django():
    # The gateway supervisor shares the protocol package: it must not pull Django in.
    code = (
        "import sys; import opamp_core.bounds, opamp_core.convert; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'channels')], 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], check=True, env={"PATH": ""})
