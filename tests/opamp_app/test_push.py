"""Push helpers: events reach every server process once, naming their gateways, after the commit that caused them."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

from gateways_app.models import Gateway
from gateways_app.services import assign_desired_config, revoke_opamp_tokens
from opamp_app import push
from opamp_app.presence import SERVERS_GROUP
from templates_app.services import create_template

pytestmark = pytest.mark.django_db

CONFIG = "receivers:\n  otlp: {}\n"


def listen(group):
    """A channel in `group`; returns (receive(count=1) -> list of events, leave).

    On a channel layer of its own, as a server process has: the process-wide one may hold a receive
    lock left locked by an earlier test's event loop ("bound to a different event loop").
    """
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    async def receive(count):
        # In one event loop: channels-redis may hand the same message to receives of two loops.
        return [await layer.receive(channel) for _ in range(count)]

    async def leave():
        await layer.group_discard(group, channel)
        if hasattr(layer, "close_pools"):  # channels-redis: its connections belong to this listener
            await layer.close_pools()

    return (lambda count=1: async_to_sync(receive)(count)), async_to_sync(leave)


@pytest.fixture
def server_process():
    """What every server process has: a channel in the servers group; calling it reads events."""
    receive, leave = listen(SERVERS_GROUP)
    yield receive
    leave()


def test_a_config_change_reaches_every_server_once_per_distinct_config(
    server_process, gateway, org, django_assert_num_queries
):
    same = Gateway.objects.create(organization=org, name="gw-2")
    other = Gateway.objects.create(organization=org, name="gw-3")
    Gateway.objects.filter(pk__in=[gateway.pk, same.pk]).update(desired_config=CONFIG, desired_config_hash="ab" * 32)
    Gateway.objects.filter(pk=other.pk).update(desired_config="other: {}\n", desired_config_hash="cd" * 32)
    with django_assert_num_queries(2):
        assert push.notify_config_changed([gateway.pk, same.pk, other.pk]) == 3
    events = sorted(server_process(2), key=lambda event: event["desired_config_hash"])
    assert [event["type"] for event in events] == ["opamp.configs_changed"] * 2
    assert (events[0]["desired_config"], sorted(events[0]["gateway_ids"])) == (
        CONFIG,
        sorted([gateway.pk.hex, same.pk.hex]),
    )
    assert events[1]["gateway_ids"] == [other.pk.hex]


def test_assigning_a_desired_config_pushes_it_once_committed(
    server_process, gateway, org, alice, django_capture_on_commit_callbacks
):
    version = create_template(org, name="t", author=alice, config_yaml=CONFIG).versions.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assign_desired_config(Gateway.objects.filter(pk=gateway.pk), version)
    assert len(callbacks) == 1
    [event] = server_process()
    assert (event["gateway_ids"], event["desired_config_hash"]) == ([gateway.pk.hex], version.sha256)


def test_revoking_the_gateways_tokens_tells_every_server_process(
    server_process, token, alice, gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        revoke_opamp_tokens(gateway, alice)
    assert server_process() == [
        {"type": "opamp.gateway_event", "event": "tokens_revoked", "gateway_ids": [gateway.pk.hex]}
    ]


def test_a_restart_request_names_its_gateway(server_process, gateway):
    push.request_restart(gateway.pk)
    assert server_process() == [{"type": "opamp.gateway_event", "event": "restart", "gateway_ids": [gateway.pk.hex]}]
