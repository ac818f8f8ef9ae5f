"""A registration token takes over an existing gateway's identity (its name or instance_uid) only when
it was created to allow re-enrollment; otherwise the enrollment is a 409 that says how to re-enroll,
and nothing is written. An allowed re-enrollment is audited with what the gateway was before."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core_app.models import AuditLog
from gateways_app import services
from gateways_app.models import Gateway, GatewayStatus, OpAMPToken, RegistrationToken

UID = "0123456789abcdef0123456789abcdef"
OTHER_UID = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def live_gateway(org):
    """A connected gateway, as an attacker with a plain registration token would find it."""
    gateway = Gateway.objects.create(
        organization=org, name="gw-1", instance_uid=UID, status=GatewayStatus.ONLINE, last_seen=timezone.now()
    )
    services.issue_opamp_token(gateway)
    return gateway


def token(org, **options):
    return services.create_registration_token(org, name="t", created_by=None, **options)


def test_a_plain_token_cannot_take_a_live_gateways_name(enroll_client, org, live_gateway):
    row, raw = token(org)
    response = enroll_client(raw, {"name": "gw-1", "instance_uid": OTHER_UID})
    assert response.status_code == 409
    assert "allows re-enrollment" in response.json()["detail"]
    # Nothing written: the token's use, the live gateway's identity and its token are untouched.
    assert RegistrationToken.objects.get(pk=row.pk).uses == 0
    live_gateway.refresh_from_db()
    assert live_gateway.instance_uid.hex == UID
    assert OpAMPToken.objects.filter(gateway=live_gateway, revoked_at__isnull=True).count() == 1
    assert not AuditLog.objects.filter(action="gateway.re_enrolled").exists()


def test_a_plain_token_cannot_take_a_gateways_instance_uid(enroll_client, org, live_gateway):
    _, raw = token(org)
    response = enroll_client(raw, {"name": "impostor", "instance_uid": UID})
    assert response.status_code == 409
    assert not Gateway.objects.filter(name="impostor").exists()


def test_a_plain_token_cannot_take_a_name_without_an_instance_uid(enroll_client, org, live_gateway):
    _, raw = token(org)
    assert enroll_client(raw, {"name": "gw-1"}).status_code == 409


def test_a_token_allowing_re_enrollment_takes_the_identity_and_audits_it(enroll_client, org, live_gateway):
    row, raw = token(org, allow_re_enroll=True)
    response = enroll_client(raw, {"name": "gw-1", "instance_uid": OTHER_UID, "hostname": "new-host"})
    assert response.status_code == 201
    assert response.json()["gateway_id"] == str(live_gateway.pk)
    assert OpAMPToken.objects.filter(gateway=live_gateway, revoked_at__isnull=True).count() == 1
    entry = AuditLog.objects.get(action="gateway.re_enrolled", object_id=str(live_gateway.pk))
    assert entry.changes["registration_token"] == str(row.pk)
    assert entry.changes["previous"]["instance_uid"] == UID
    assert entry.changes["previous"]["status"] == "online"


def test_a_retried_enrollment_of_a_gateway_that_never_connected_is_allowed(enroll_client, org):
    # The first answer was lost: the supervisor retries with the same name and instance_uid.
    _, raw = token(org, max_uses=2)
    first = enroll_client(raw, {"name": "gw-new", "instance_uid": UID})
    second = enroll_client(raw, {"name": "gw-new", "instance_uid": UID})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["gateway_id"] == second.json()["gateway_id"]


def test_a_retry_does_not_cover_a_gateway_that_connected(enroll_client, org, live_gateway):
    _, raw = token(org)
    assert enroll_client(raw, {"name": "gw-1", "instance_uid": UID}).status_code == 409


def test_the_api_creates_a_token_allowing_re_enrollment(api_client, org):
    response = api_client.post("/api/v1/registration-tokens/", {"name": "t", "allow_re_enroll": True})
    assert response.status_code == 201 and response.json()["allow_re_enroll"] is True
    assert RegistrationToken.objects.get().allow_re_enroll is True
    entry = AuditLog.objects.get(action="registration_token.created")
    assert entry.changes["allow_re_enroll"] is True


def test_api_tokens_do_not_allow_re_enrollment_by_default(api_client, org):
    response = api_client.post("/api/v1/registration-tokens/", {"name": "t"})
    assert response.json()["allow_re_enroll"] is False


def test_the_page_creates_a_token_allowing_re_enrollment(alice, org):
    client = Client()
    client.force_login(alice)
    data = {"name": "t", "max_uses": 1, "allow_re_enroll": "on"}
    assert client.post(reverse("gateways:token-create"), data).status_code == 200
    assert RegistrationToken.objects.get().allow_re_enroll is True


def test_the_admin_creates_a_token_allowing_re_enrollment(alice, org):
    client = Client()
    client.force_login(alice)
    data = {"organization": org.pk, "name": "t", "max_uses": 1, "allow_re_enroll": "on"}
    assert client.post("/admin/gateways_app/registrationtoken/add/", data).status_code == 302
    assert RegistrationToken.objects.get().allow_re_enroll is True


def test_the_command_creates_a_token_allowing_re_enrollment(org):
    call_command("createregistrationtoken", "acme", "--allow-re-enroll", stdout=StringIO())
    assert RegistrationToken.objects.get().allow_re_enroll is True


def test_a_retry_under_another_name_is_not_a_retry(enroll_client, org):
    _, raw = token(org, max_uses=2)
    assert enroll_client(raw, {"name": "gw-new", "instance_uid": UID}).status_code == 201
    assert enroll_client(raw, {"name": "renamed", "instance_uid": UID}).status_code == 409


def test_the_token_list_marks_tokens_that_re_enroll(alice, org):
    token(org, allow_re_enroll=True)
    client = Client()
    client.force_login(alice)
    assert b"re-enrolls" in client.get(reverse("gateways:tokens")).content
