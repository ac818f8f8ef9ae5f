"""OpAMP token rotation (issue 13, point 6): the grace period, revoke as the kill switch, the
scheduled rotation, the pages for gateways with and without AcceptsOpAMPConnectionSettings, and
the ConnectionSettingsStatus an agent reports. The live test with the real supervisor and
collector is tests/gateway/test_token_rotation_live.py.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from core_app.models import AuditLog, OrgSettings
from gateways_app import gateway_commands, rotation, services
from gateways_app.models import Gateway, OpAMPToken
from gateways_app.signals import opamp_token_offered
from gateways_app.tasks import rotate_expiring_opamp_tokens
from gateways_app.tokens import TokenError, verify_opamp_token
from opamp_app.services import authenticate, load_state
from opamp_core import offers, protocol
from opamp_core.proto import opamp_pb2
from tests.pages.conftest import signed_in

pytestmark = pytest.mark.django_db

Caps = opamp_pb2.AgentCapabilities
# What our supervisor announces now: AcceptsOpAMPConnectionSettings and ReportsConnectionSettingsStatus among the rest.
ROTATING_AGENT = (
    Caps.AgentCapabilities_ReportsStatus
    | Caps.AgentCapabilities_AcceptsRemoteConfig
    | Caps.AgentCapabilities_ReportsHeartbeat
    | Caps.AgentCapabilities_AcceptsOpAMPConnectionSettings
    | Caps.AgentCapabilities_ReportsConnectionSettingsStatus
)
PLAIN_AGENT = Caps.AgentCapabilities_ReportsStatus | Caps.AgentCapabilities_ReportsHeartbeat


@pytest.fixture
def rotating(org):
    return Gateway.objects.create(organization=org, name="rot-1", capabilities=ROTATING_AGENT)


@pytest.fixture
def plain(org):
    return Gateway.objects.create(organization=org, name="plain-1", capabilities=PLAIN_AGENT)


def grace_minutes(org, minutes):
    OrgSettings.objects.update_or_create(organization=org, defaults={"opamp_token_grace_minutes": minutes})


# The grace period


def test_the_old_token_works_until_the_gateway_connects_with_the_new_one(rotating, alice):
    _, old = services.issue_opamp_token(rotating)
    row, new = rotation.rotate(rotating, user=alice)
    assert verify_opamp_token(old).gateway == rotating  # still works: the gateway has not switched yet
    agent = authenticate(new)  # the gateway connects with the new token: rotation complete
    assert agent.token_id == row.pk
    with pytest.raises(TokenError, match="revoked"):
        verify_opamp_token(old)
    rotating.refresh_from_db()
    assert rotating.offered_opamp_token_id is None and rotating.opamp_token_rotated_at is not None
    actions = list(AuditLog.objects.filter(object_id=str(rotating.pk)).values_list("action", flat=True))
    assert "gateway.token_rotation_started" in actions and "gateway.token_rotated" in actions


def test_the_old_token_stops_working_when_the_grace_period_ends(rotating, org):
    grace_minutes(org, 10)
    now = timezone.now()
    _, old = services.issue_opamp_token(rotating, now=now)
    rotation.rotate(rotating, now=now)
    assert verify_opamp_token(old, now=now + timedelta(minutes=9)).gateway == rotating
    with pytest.raises(TokenError, match="replaced"):
        verify_opamp_token(old, now=now + timedelta(minutes=10, seconds=1))
    # The per-process token check closes a WebSocket still open with it.
    from opamp_app.services import live_token_ids

    old_row = OpAMPToken.objects.filter(gateway=rotating, grace_until__isnull=False).get()
    assert live_token_ids([old_row.pk], now=now + timedelta(minutes=9)) == {old_row.pk}
    assert live_token_ids([old_row.pk], now=now + timedelta(minutes=11)) == set()


def test_a_connection_with_the_old_token_is_offered_the_new_one(rotating):
    _, old = services.issue_opamp_token(rotating)
    _, new = rotation.rotate(rotating)
    state = load_state(authenticate(old))
    assert state.opamp_headers == (("Authorization", f"Bearer {new}"),)
    reply = protocol.process(hello(state), state).reply
    assert offered_token(reply) == new
    # A connection with the new token is offered the token it uses: no change for the agent, and an agent
    # that replaces its headers with offered ones (the contrib supervisor) keeps its credential.
    assert load_state(authenticate(new)).opamp_headers == (("Authorization", f"Bearer {new}"),)


def test_every_offer_to_an_agent_that_takes_settings_carries_its_token(rotating, plain):
    # No rotation: the offer (heartbeat interval, endpoint) still names the agent's own token, as an agent that
    # replaces its connection headers with the offered ones would otherwise reconnect without any.
    _, token = services.issue_opamp_token(rotating)
    state = load_state(authenticate(token), opamp_endpoint="ws://portal.example/v1/opamp")
    reply = protocol.process(hello(state), state).reply
    assert offered_token(reply) == token
    assert reply.connection_settings.opamp.destination_endpoint == "ws://portal.example/v1/opamp"
    # An agent that does not take settings is offered no headers (only the interval).
    _, token = services.issue_opamp_token(plain)
    state = load_state(authenticate(token), opamp_endpoint="ws://portal.example/v1/opamp")
    message = opamp_pb2.AgentToServer(instance_uid=b"\x02" * 16, sequence_num=1, capabilities=PLAIN_AGENT)
    reply = protocol.process(message, state).reply
    assert reply.connection_settings.opamp.heartbeat_interval_seconds > 0
    assert list(reply.connection_settings.opamp.headers.headers) == []


# Revoke stays the kill switch


def test_revoking_during_a_rotation_cuts_the_gateway_off_at_once(rotating, alice):
    _, old = services.issue_opamp_token(rotating)
    _, new = rotation.rotate(rotating, user=alice)
    assert services.revoke_opamp_tokens(rotating, alice) == 2
    for raw in (old, new):
        with pytest.raises(TokenError, match="revoked"):
            verify_opamp_token(raw)
    rotating.refresh_from_db()
    assert rotating.offered_opamp_token_id is None  # nothing is offered any more


# The scheduled rotation


def test_the_scheduled_rotation_offers_a_new_token_to_gateways_whose_token_nears_expiry(
    rotating, plain, org, django_capture_on_commit_callbacks
):
    OrgSettings.objects.update_or_create(
        organization=org, defaults={"opamp_token_lifetime_days": 90, "opamp_token_rotate_days": 10}
    )
    now = timezone.now()
    services.issue_opamp_token(rotating, now=now - timedelta(days=85))  # expires in 5 days: due
    services.issue_opamp_token(plain, now=now - timedelta(days=85))  # due, but cannot take it over OpAMP
    fresh = Gateway.objects.create(organization=org, name="fresh", capabilities=ROTATING_AGENT)
    services.issue_opamp_token(fresh, now=now - timedelta(days=30))  # 60 days left: not due
    offered = []
    opamp_token_offered.connect(
        lambda sender, gateway_id, **kw: offered.append(gateway_id), weak=False, dispatch_uid="t"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert rotate_expiring_opamp_tokens() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert rotate_expiring_opamp_tokens() == 0  # already offered: not again
    finally:
        opamp_token_offered.disconnect(dispatch_uid="t")
    assert offered == [rotating.pk]  # the same path as a re-issue: the OpAMP server offers it
    rotating.refresh_from_db()
    assert rotating.offered_opamp_token is not None
    assert not Gateway.objects.filter(pk__in=[plain.pk, fresh.pk], offered_opamp_token__isnull=False).exists()
    entry = AuditLog.objects.get(action="gateway.token_rotation_started")
    assert entry.changes["reason"] == "scheduled"
    # The replaced token is not cut short: it works until it expires, or until the gateway uses the new one.
    old = OpAMPToken.objects.get(gateway=rotating, grace_until__isnull=False)
    assert old.grace_until == old.expires_at


def test_the_scheduled_rotation_is_on_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "gateways_app.tasks.rotate_expiring_opamp_tokens" in tasks


def test_a_rotation_earlier_than_the_lifetime_is_refused(org):
    from django.core.exceptions import ValidationError

    row = OrgSettings(organization=org, opamp_token_lifetime_days=30, opamp_token_rotate_days=30)
    with pytest.raises(ValidationError, match="less than the OpAMP token lifetime"):
        row.full_clean()


# Pages and API


def test_reissuing_on_the_page_rotates_without_cutting_off_a_gateway_that_accepts_it(alice, rotating):
    old, _ = services.issue_opamp_token(rotating)
    response = signed_in(alice).post(reverse("gateways:reissue-token", args=[rotating.pk]))
    assert response.status_code == 200
    assert 'id="rotation-offered"' in response.content.decode()
    old.refresh_from_db()
    assert old.revoked_at is None and old.grace_until is not None
    detail = signed_in(alice).get(reverse("gateways:detail", args=[rotating.pk])).content.decode()
    assert "in progress: a new token is offered over OpAMP" in detail


def test_reissuing_by_api_rotates(api_client, rotating):
    _, old = services.issue_opamp_token(rotating)
    data = api_client.post(f"/api/v1/gateways/{rotating.pk}/reissue-token/").json()
    assert data["rotated"] is True and data["old_token_valid_until"]
    assert verify_opamp_token(old).gateway == rotating


def test_a_gateway_that_cannot_take_a_token_gets_the_exact_re_enroll_commands(alice, plain):
    page = signed_in(alice).get(reverse("gateways:detail", args=[plain.pk])).content.decode()
    assert 'id="no-rotation"' in page and "--re-enroll --name plain-1" in page
    old, _ = services.issue_opamp_token(plain)
    response = signed_in(alice).post(reverse("gateways:reissue-token", args=[plain.pk]))
    old.refresh_from_db()
    assert old.revoked_at is not None
    registration = response.context["registration"]
    assert registration.allow_re_enroll and registration.max_uses == 1
    command = response.context["command"]
    # The enroll page's run command for a one-use re-enrollment token, plus --re-enroll and the gateway's name.
    printed = gateway_commands.run_command("http://testserver", "TOKEN", re_enroll=True)
    assert command.startswith(printed.replace("TOKEN", command.split("--registration-token ")[1].split(" ")[0]))
    assert command.endswith("--re-enroll --name plain-1")
    body = response.content.decode()
    assert escape(command) in body and escape(gateway_commands.install_command()) in body
    assert 'id="rotation-impossible"' in body


# ConnectionSettingsStatus


def test_the_connection_settings_status_an_agent_reports_is_shown_on_the_gateway_page(alice, rotating):
    _, raw = services.issue_opamp_token(rotating)
    state = load_state(authenticate(raw))
    status = opamp_pb2.ConnectionSettingsStatus(
        last_connection_settings_hash=b"\xab" * 32,
        status=opamp_pb2.ConnectionSettingsStatuses_FAILED,
        error_message="the server refused the offered token (HTTP 401)",
    )
    result = protocol.process(hello(state, connection_settings_status=status), state)
    assert result.changes["connection_settings_status"] == "failed"
    Gateway.objects.filter(pk=rotating.pk).update(**result.changes)
    page = signed_in(alice).get(reverse("gateways:detail", args=[rotating.pk])).content.decode()
    assert '<span class="badge failed">Failed</span>' in page
    assert "the server refused the offered token (HTTP 401)" in page
    status.status = opamp_pb2.ConnectionSettingsStatuses_APPLIED
    status.error_message = ""
    state = protocol.apply_changes(state, result.changes)
    result = protocol.process(hello(state, connection_settings_status=status, sequence_num=2), state, result.session)
    Gateway.objects.filter(pk=rotating.pk).update(**result.changes)
    page = signed_in(alice).get(reverse("gateways:detail", args=[rotating.pk])).content.decode()
    assert '<span class="badge applied">Applied</span>' in page and "refused the offered token" not in page


# The offer itself (opamp_core.offers)


def test_headers_are_offered_only_to_agents_that_accept_opamp_connection_settings():
    headers = offers.bearer_headers("t0k3n")
    assert offers.offer(PLAIN_AGENT, 30, headers)[1] == {"opamp": {"heartbeat_interval_seconds": 30}}
    made_hash, description = offers.offer(ROTATING_AGENT, 30, headers)
    assert description["opamp"]["headers"] == [["Authorization", "Bearer t0k3n"]]
    assert made_hash != offers.offer(ROTATING_AGENT, 30)[0]  # the hash covers every part


def test_an_offer_is_resent_on_each_connection_until_the_agent_reports_its_hash():
    state = protocol.GatewayState(
        instance_uid=b"\x01" * 16, capabilities=ROTATING_AGENT, opamp_headers=offers.bearer_headers("new")
    )
    first = protocol.process(hello(state), state)
    assert offered_token(first.reply) == "new"
    again = protocol.process(hello(state, sequence_num=2), state, first.session)
    assert not again.reply.HasField("connection_settings")  # not twice on one connection
    reconnected = protocol.process(hello(state), state)  # a new connection: a new Session
    assert offered_token(reconnected.reply) == "new"
    held = opamp_pb2.ConnectionSettingsStatus(
        last_connection_settings_hash=first.reply.connection_settings.hash,
        status=opamp_pb2.ConnectionSettingsStatuses_APPLYING,
    )
    assert not protocol.process(hello(state, connection_settings_status=held), state).reply.HasField(
        "connection_settings"
    )


def hello(state, sequence_num=1, **parts):
    message = opamp_pb2.AgentToServer(
        instance_uid=state.instance_uid or b"\x01" * 16, sequence_num=sequence_num, capabilities=ROTATING_AGENT
    )
    for name, value in parts.items():
        getattr(message, name).CopyFrom(value)
    return message


def offered_token(reply) -> str:
    from gateway.opamp_client import offered_token as parse

    return parse(reply.connection_settings.opamp)


def test_the_settings_page_and_the_api_offer_the_rotation_settings(alice, api_client, org):
    page = signed_in(alice).get(reverse("core:settings")).content.decode()
    assert 'name="opamp_token_grace_minutes"' in page and 'name="opamp_token_rotate_days"' in page
    response = api_client.patch(f"/api/v1/settings/{org.slug}/", {"opamp_token_grace_minutes": 15}, format="json")
    assert response.status_code == 200 and response.json()["opamp_token_grace_minutes"] == 15
    response = api_client.patch(f"/api/v1/settings/{org.slug}/", {"opamp_token_rotate_days": 400}, format="json")
    assert response.status_code == 400
    assert "less than the OpAMP token lifetime" in str(response.json())


def test_a_gateway_with_a_token_on_offer_can_be_deleted(api_client, rotating):
    services.issue_opamp_token(rotating)
    rotation.rotate(rotating)
    assert api_client.delete(f"/api/v1/gateways/{rotating.pk}/").status_code == 204
    assert not OpAMPToken.objects.filter(gateway_id=rotating.pk).exists()
