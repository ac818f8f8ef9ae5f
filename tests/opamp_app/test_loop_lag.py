"""One agent's large report must not stall the other connections of the process.

Two WebSockets on the consumer, in this test's event loop (as in a server process): while
one sends a 2 MB health report, the other sends heartbeats and times each reply. Before the
report bounds and the worker thread, the report held the loop for a second or more (parse,
then conversion of 150,000 components); the bound below is generous for a loaded 2-core
machine and far below that.
"""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from gateways_app.models import Gateway
from opamp_app.consumers import OpAMPConsumer
from opamp_core import framing
from opamp_core.proto import opamp_pb2
from tests.opamp_app.conftest import make_token
from tests.opamp_app.peer import Agent, description

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

# Seconds a heartbeat reply may take while the other connection's report is handled.
HEARTBEAT_BOUND = 0.25


def communicator(token):
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return WebsocketCommunicator(OpAMPConsumer.as_asgi(), "/v1/opamp", headers=headers)


def health_report(agent, components, padding=0):
    """A report whose health has `components` components, each with `padding` characters of status."""
    message = agent.message(agent_description=description())
    message.health.healthy = True
    for index in range(components):
        child = message.health.component_health_map[f"c{index:06d}"]
        child.healthy = True
        child.status = "x" * padding
    return framing.encode(message)


async def heartbeat_lags(big_token, big_frame, small_token):
    """(slowest heartbeat reply in seconds, the reply to the big report)."""
    big, small, beating = communicator(big_token), communicator(small_token), Agent()
    assert (await big.connect())[0] and (await small.connect())[0]
    await small.send_to(bytes_data=framing.encode(beating.message(agent_description=description())))
    await small.receive_from(timeout=10)
    await big.send_to(bytes_data=big_frame)
    reply = asyncio.ensure_future(big.receive_from(timeout=30))
    lags = []
    while not reply.done() or not lags:
        started = time.perf_counter()
        await small.send_to(bytes_data=framing.encode(beating.message()))
        await small.receive_from(timeout=30)
        lags.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    await big.disconnect()
    await small.disconnect()
    return max(lags), framing.decode(await reply, opamp_pb2.ServerToAgent)


@pytest.fixture
def second_token(org):
    return make_token(Gateway.objects.create(organization=org, name="gw-2"))


def test_a_2_mb_report_over_the_bounds_does_not_delay_another_connections_heartbeat(token, second_token):
    frame = health_report(Agent(), 150_000)
    assert len(frame) > 2_000_000
    lag, reply = async_to_sync(heartbeat_lags)(token, frame, second_token)
    assert "FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS" in reply.error_response.error_message
    assert lag < HEARTBEAT_BOUND, f"a heartbeat waited {lag * 1000:.0f} ms"


def test_a_2_mb_report_within_the_bounds_is_stored_without_delaying_another_connection(token, second_token, gateway):
    frame = health_report(Agent(), 2000, padding=1000)
    assert len(frame) > 2_000_000
    lag, reply = async_to_sync(heartbeat_lags)(token, frame, second_token)
    assert not reply.HasField("error_response")
    assert len(Gateway.objects.get(pk=gateway.pk).health["component_health_map"]) == 2000
    assert lag < HEARTBEAT_BOUND, f"a heartbeat waited {lag * 1000:.0f} ms"
