"""Push helpers: events reach the gateway's channel-layer group, after the commit that caused them."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from deployments_app.services import assign_desired_config
from gateways_app.models import Gateway
from gateways_app.services import revoke_opamp_tokens
from opamp_app import push
from templates_app.services import create_template

pytestmark = pytest.mark.django_db

CONFIG = "receivers:\n  otlp: {}\n"


@pytest.fixture
def listener(gateway):
    """A channel in the gateway's group, as an open WebSocket of the gateway has; receive() reads it."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(push.group_name(gateway.pk), channel)
    yield lambda: async_to_sync(layer.receive)(channel)
    async_to_sync(layer.group_discard)(push.group_name(gateway.pk), channel)


def test_the_group_name_is_valid_and_per_gateway(gateway, org):
    other = Gateway.objects.create(organization=org, name="gw-2")
    assert push.group_name(gateway.pk) == f"opamp.gateway.{gateway.pk.hex}"
    assert push.group_name(gateway.pk) != push.group_name(other.pk)


def test_a_config_change_carries_the_desired_config_in_one_query(listener, gateway, django_assert_num_queries):
    Gateway.objects.filter(pk=gateway.pk).update(desired_config=CONFIG, desired_config_hash="ab" * 32)
    with django_assert_num_queries(1):
        assert push.notify_config_changed([str(gateway.pk)]) == 1
    event = listener()
    assert event == {"type": "opamp.config_changed", "desired_config": CONFIG, "desired_config_hash": "ab" * 32}


def test_assigning_a_desired_config_pushes_it_once_committed(
    listener, gateway, org, alice, django_capture_on_commit_callbacks
):
    version = create_template(org, name="t", author=alice, config_yaml=CONFIG).versions.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assign_desired_config(Gateway.objects.filter(pk=gateway.pk), version)
    assert len(callbacks) == 1
    assert listener()["desired_config_hash"] == version.sha256


def test_revoking_the_gateways_tokens_tells_its_connections(
    listener, gateway, token, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        revoke_opamp_tokens(gateway, alice)
    assert listener() == {"type": "opamp.tokens_revoked"}
