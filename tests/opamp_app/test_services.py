"""The database side of the OpAMP transports (opamp_app.services), called directly."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from core_app.models import AuditLog, OrgSettings
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token, issue_opamp_token, revoke_opamp_token
from gateways_app.tokens import TokenError
from opamp_app import services
from opamp_core import protocol
from tests.opamp_app.peer import Agent, Server

pytestmark = pytest.mark.django_db


def first_result(gateway, agent=None):
    """What protocol.process() decides for the first message of a new agent of `gateway`."""
    state = protocol.GatewayState.from_gateway(gateway)
    return protocol.process((agent or Agent()).message(), state)


def test_authenticate_resolves_gateway_and_heartbeat_in_one_query(gateway, token, django_assert_num_queries):
    OrgSettings.objects.filter(organization=gateway.organization).update(heartbeat_interval_seconds=12)
    services.authenticate(token)  # the gateway's first connection issues its telemetry credential, once
    with django_assert_num_queries(1):
        agent = services.authenticate(token)
        state = services.load_state(agent)
    assert agent.gateway == gateway
    assert state.heartbeat_interval_seconds == 12


def test_authenticate_refuses_a_registration_token(gateway, alice):
    _, raw = create_registration_token(gateway.organization, name="reg", created_by=alice)
    with pytest.raises(TokenError, match="wrong token type"):
        services.authenticate(raw)


def test_authenticate_refuses_a_revoked_token(gateway):
    row, raw = issue_opamp_token(gateway)
    revoke_opamp_token(row, user=None)
    with pytest.raises(TokenError, match="revoked"):
        services.authenticate(raw)


@pytest.mark.parametrize(
    "authorization, query, expected",
    [
        ("Bearer abc", "", "abc"),
        ("bearer  abc ", "zzz", "abc"),  # the header wins over the query parameter
        ("", "zzz", "zzz"),
        ("Basic abc", "zzz", ""),  # another scheme is no token, not a fallback
        ("", "", ""),
    ],
)
def test_extract_token_reads_the_bearer_header_or_the_query_parameter(authorization, query, expected):
    assert services.extract_token(authorization, query) == expected


def test_saving_no_changes_costs_no_query(gateway, django_assert_num_queries):
    with django_assert_num_queries(0):
        services.save_changes(gateway.pk, {})


def test_saving_changes_is_one_update(gateway, django_assert_num_queries):
    with django_assert_num_queries(1):
        services.save_changes(gateway.pk, {"status": "online", "hostname": "h1"})
    assert Gateway.objects.get(pk=gateway.pk).hostname == "h1"


def test_a_quiet_heartbeat_needs_no_write(gateway):
    server = Server(protocol.GatewayState.from_gateway(gateway))
    agent = Agent()
    server.receive(agent.message())
    later = protocol.process(agent.message(), server.state, server.session, now=timezone.now() + timedelta(hours=1))
    # last_seen alone is left to the per-process presence write.
    assert set(later.changes) == {"last_seen"}
    assert not services.needs_write(later)


def test_a_first_message_adopts_the_uid_and_is_audited_once(gateway):
    agent = Agent()
    result = services.save_result(gateway, first_result(gateway, agent), transport="websocket", first_contact=True)
    assert Gateway.objects.get(pk=gateway.pk).instance_uid == uuid.UUID(bytes=agent.uid)
    actions = sorted(AuditLog.objects.filter(object_id=str(gateway.pk)).values_list("action", flat=True))
    assert actions == ["gateway.first_connection", "gateway.instance_uid_adopted"]
    assert not result.reply.HasField("agent_identification")


def test_a_uid_held_by_another_gateway_is_never_merged(gateway, org):
    holder = Gateway.objects.create(organization=org, name="holder", instance_uid=uuid.uuid4())
    agent = Agent(uid=holder.instance_uid.bytes)
    result = services.save_result(gateway, first_result(gateway, agent), transport="http")
    new_uid = Gateway.objects.get(pk=gateway.pk).instance_uid
    assert new_uid != holder.instance_uid
    assert result.reply.agent_identification.new_instance_uid == new_uid.bytes
    entry = AuditLog.objects.get(action="gateway.instance_uid_adopted")
    assert entry.changes["refused_duplicate"] == str(holder.instance_uid)


def test_mark_offline_sets_offline_once(gateway):
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.ONLINE)
    assert services.mark_offline(gateway.pk)
    assert not services.mark_offline(gateway.pk)
    row = Gateway.objects.get(pk=gateway.pk)
    assert row.status == GatewayStatus.OFFLINE and row.last_seen is not None


def test_live_token_ids_leaves_out_revoked_expired_and_deleted_tokens(gateway, django_assert_num_queries):
    live, _ = issue_opamp_token(gateway)
    revoked, _ = issue_opamp_token(gateway)
    revoke_opamp_token(revoked, user=None)
    expired, _ = issue_opamp_token(gateway, now=timezone.now() - timedelta(days=400))
    with django_assert_num_queries(1):
        found = services.live_token_ids([live.pk, revoked.pk, expired.pk, uuid.uuid4()])
    assert found == {live.pk}


def test_touch_gateways_refreshes_last_seen_and_puts_back_the_status(gateway, org):
    degraded = Gateway.objects.create(organization=org, name="gw-2")
    now = timezone.now()
    services.touch_gateways({gateway.pk: GatewayStatus.ONLINE, degraded.pk: GatewayStatus.DEGRADED}, now=now)
    rows = {row.pk: (row.status, row.last_seen) for row in Gateway.objects.all()}
    assert rows == {gateway.pk: ("online", now), degraded.pk: ("degraded", now)}
