"""The per-process registry of connections: events handed out in memory, duplicates, cleanup."""

import uuid
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync

from opamp_app.presence import CONFIGS_CHANGED, GATEWAY_EVENT, RESTART, TOKENS_REVOKED, Registry


class FakeConnection:
    """What the registry needs of a consumer: agent, state, config_changed(), restart(), close()."""

    def __init__(self, gateway_id, token_id=None):
        self.agent = SimpleNamespace(gateway=SimpleNamespace(pk=gateway_id), token_id=token_id or uuid.uuid4())
        self.state = SimpleNamespace(status="online")
        self.configs, self.restarts, self.closed = [], 0, None

    async def config_changed(self, config, digest):
        self.configs.append((config, digest))

    async def restart(self):
        self.restarts += 1

    async def close(self, code):
        self.closed = code


def registry_with(*connections):
    registry = Registry()
    for connection in connections:
        registry.by_gateway.setdefault(connection.agent.gateway.pk, set()).add(connection)
    return registry


def test_a_config_push_reaches_only_the_connections_of_the_gateways_it_names():
    named, other = FakeConnection(uuid.uuid4()), FakeConnection(uuid.uuid4())
    ids = [named.agent.gateway.pk.hex, uuid.uuid4().hex]  # the second gateway is connected elsewhere
    event = {"type": CONFIGS_CHANGED, "desired_config": "a: 1\n", "desired_config_hash": "ab", "gateway_ids": ids}
    async_to_sync(registry_with(named, other).deliver)(event)
    assert (named.configs, other.configs) == ([("a: 1\n", "ab")], [])


def test_a_restart_request_reaches_only_the_connections_of_its_gateway():
    named, other = FakeConnection(uuid.uuid4()), FakeConnection(uuid.uuid4())
    event = {"type": GATEWAY_EVENT, "event": RESTART, "gateway_ids": [named.agent.gateway.pk.hex]}
    async_to_sync(registry_with(named, other).deliver)(event)
    assert (named.restarts, other.restarts) == (1, 0)


@pytest.mark.django_db(transaction=True)
def test_a_revocation_closes_the_named_gateways_connections_whose_token_stopped_working(gateway, token):
    live_token = gateway.opamp_tokens.get().pk
    revoked, still_valid, elsewhere = (
        FakeConnection(gateway.pk),  # a token id that no longer exists
        FakeConnection(gateway.pk, token_id=live_token),
        FakeConnection(uuid.uuid4()),
    )
    registry = registry_with(revoked, still_valid, elsewhere)
    event = {"type": GATEWAY_EVENT, "event": TOKENS_REVOKED, "gateway_ids": [gateway.pk.hex]}
    async_to_sync(registry.deliver)(event)
    assert (revoked.closed, still_valid.closed, elsewhere.closed) == (1008, None, None)
    assert registry.connections_of([gateway.pk.hex]) == [still_valid]


def test_a_second_connection_of_the_same_gateway_keeps_it_connected():
    gateway_id = uuid.uuid4()
    first, second = FakeConnection(gateway_id), FakeConnection(gateway_id)
    registry = registry_with(first, second)
    assert registry.connected_elsewhere(first)
    registry.discard(second)
    assert not registry.connected_elsewhere(first)


def test_discarding_the_last_connection_of_a_gateway_forgets_the_gateway():
    connection = FakeConnection(uuid.uuid4())
    registry = registry_with(connection)
    registry.discard(connection)
    registry.discard(connection)  # twice is harmless (disconnect, then the consumer's cleanup)
    assert registry.by_gateway == {}
