from datetime import timedelta

import pytest
from django.utils import timezone

from core_app.models import AuditLog
from gateways_app import services
from gateways_app.models import Gateway, OpAMPToken, RegistrationToken, Tag
from gateways_app.tokens import verify_opamp_token

UID = "0123456789abcdef0123456789abcdef"


def test_it_enrolls_a_gateway(enroll_client, registration, org):
    r = enroll_client(registration[1], {"name": "edge-1", "hostname": "edge-1.local", "instance_uid": UID})
    assert r.status_code == 201, r.json()
    body = r.json()
    gateway = Gateway.objects.get(pk=body["gateway_id"])
    assert (gateway.organization, gateway.name, gateway.hostname, gateway.mode) == (
        org,
        "edge-1",
        "edge-1.local",
        "supervisor",
    )
    assert body["organization"] == "acme" and body["instance_uid"] == UID
    assert verify_opamp_token(body["opamp_token"]).gateway == gateway


def test_it_answers_with_opamp_endpoints_and_heartbeat(enroll_client, registration):
    body = enroll_client(registration[1]).json()
    assert body["opamp_endpoints"] == {"ws": "ws://testserver/v1/opamp", "http": "http://testserver/v1/opamp"}
    assert body["heartbeat_interval_seconds"] == 30
    assert body["instance_uid"] is None
    assert body["opamp_token_expires_at"]


def test_it_uses_the_public_url_when_set(enroll_client, registration, settings):
    settings.FLOWGATE_PUBLIC_URL = "https://flowgate.example.com/"
    body = enroll_client(registration[1]).json()
    assert body["opamp_endpoints"] == {
        "ws": "wss://flowgate.example.com/v1/opamp",
        "http": "https://flowgate.example.com/v1/opamp",
    }


def test_it_answers_with_and_without_the_trailing_slash(enroll_client, org, alice):
    _, first = services.create_registration_token(org, name="a", created_by=alice, max_uses=2)
    assert enroll_client(first, {"name": "a"}, path="/api/v1/gateways/register").status_code == 201
    assert enroll_client(first, {"name": "b"}, path="/api/v1/gateways/register/").status_code == 201


def test_it_counts_the_use_and_audits_with_the_source_ip(enroll_client, registration, org):
    row, raw = registration
    enroll_client(raw, {"name": "edge-1"})
    row.refresh_from_db()
    assert row.uses == 1
    entry = AuditLog.objects.get(action="gateway.enrolled")
    assert entry.actor_name == "gateway:edge-1" and entry.source_ip == "127.0.0.1"


def test_it_gives_body_tags_and_token_tags(enroll_client, org, alice):
    _, raw = services.create_registration_token(org, name="t", created_by=alice, tags=["site=paris"])
    r = enroll_client(raw, {"name": "edge-1", "tags": ["env=prod", "tier=edge"]})
    gateway = Gateway.objects.get(pk=r.json()["gateway_id"])
    assert sorted(map(str, gateway.tags.all())) == ["env=prod", "site=paris", "tier=edge"]
    assert Tag.objects.for_org(org).count() == 3


@pytest.mark.parametrize(
    "header",
    [None, "Token abc", "Bearer", "Bearer not.a.jwt"],
)
def test_it_refuses_missing_or_garbled_authorization(client, registration, header):
    headers = {"Authorization": header} if header else {}
    r = client.post("/api/v1/gateways/register", {"name": "x"}, "application/json", headers=headers)
    assert r.status_code == 401
    assert r.json()["detail"]
    assert Gateway.objects.count() == 0


def test_it_refuses_an_expired_token(enroll_client, org, alice):
    row, raw = services.create_registration_token(
        org, name="t", created_by=alice, now=timezone.now() - timedelta(days=2)
    )
    r = enroll_client(raw)
    assert (r.status_code, r.json()) == (401, {"detail": "token expired"})
    assert Gateway.objects.count() == 0


def test_it_refuses_a_revoked_token(enroll_client, registration, alice):
    services.revoke_registration_token(registration[0], alice)
    r = enroll_client(registration[1])
    assert (r.status_code, r.json()) == (401, {"detail": "token revoked"})


def test_it_refuses_a_forged_token(enroll_client, registration):
    header, payload, _ = registration[1].split(".")
    r = enroll_client(f"{header}.{payload}.c2lnbmF0dXJl")
    assert (r.status_code, r.json()) == (401, {"detail": "invalid signature"})


def test_it_refuses_an_opamp_token(enroll_client, gateway):
    _, raw = services.issue_opamp_token(gateway)
    r = enroll_client(raw)
    assert (r.status_code, r.json()) == (401, {"detail": "wrong token type"})
    assert Gateway.objects.count() == 1


def test_it_refuses_a_used_up_token(enroll_client, registration):
    assert enroll_client(registration[1], {"name": "first"}).status_code == 201
    r = enroll_client(registration[1], {"name": "second"})
    assert (r.status_code, r.json()) == (401, {"detail": "token used up"})
    assert list(Gateway.objects.values_list("name", flat=True)) == ["first"]


def test_it_checks_the_token_before_the_body(enroll_client):
    r = enroll_client("garbage", {"nonsense": 1})
    assert r.status_code == 401


def test_it_rejects_unknown_fields_and_leaves_the_token_unused(enroll_client, registration):
    r = enroll_client(registration[1], {"name": "x", "colour": "blue"})
    assert r.status_code == 400
    assert r.json() == {"colour": ["Unknown field."]}
    assert RegistrationToken.objects.get().uses == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "x", "mode": "daemon"}, "mode"),
        ({"name": "x", "instance_uid": "xyz"}, "instance_uid"),
        ({"name": "x", "instance_uid": "0" * 32}, "instance_uid"),
        ({"name": "x", "tags": ["no-equals-sign"]}, "tags"),
        ({"name": "x", "tags": ["=empty-key"]}, "tags"),
        ({"name": "x", "tags": ["env=has space"]}, "tags"),
        ({"name": "x", "tags": "env=prod"}, "tags"),
    ],
)
def test_it_rejects_bad_bodies_naming_the_field(enroll_client, registration, body, field):
    r = enroll_client(registration[1], body)
    assert r.status_code == 400
    assert field in r.json()
    assert Gateway.objects.count() == 0 and Tag.objects.count() == 0


def test_it_accepts_a_uuid_text_instance_uid(enroll_client, registration):
    r = enroll_client(registration[1], {"name": "x", "instance_uid": "01234567-89AB-CDEF-0123-456789ABCDEF"})
    assert r.json()["instance_uid"] == UID


def test_re_enrolling_by_name_reuses_the_gateway_and_revokes_its_old_token(enroll_client, org, alice, gateway):
    old, old_raw = services.issue_opamp_token(gateway)
    _, raw = services.create_registration_token(org, name="again", created_by=alice, allow_re_enroll=True)
    r = enroll_client(raw, {"name": "gw-1", "hostname": "new-host"})
    assert r.status_code == 201
    assert r.json()["gateway_id"] == str(gateway.pk)
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert OpAMPToken.objects.filter(gateway=gateway, revoked_at__isnull=True).count() == 1
    assert AuditLog.objects.filter(action="gateway.re_enrolled", object_id=str(gateway.pk)).exists()


def test_re_enrolling_by_instance_uid_renames_the_gateway(enroll_client, org, alice, gateway):
    gateway.instance_uid = UID
    gateway.save()
    _, raw = services.create_registration_token(org, name="again", created_by=alice, allow_re_enroll=True)
    r = enroll_client(raw, {"name": "renamed", "instance_uid": UID})
    assert r.json()["gateway_id"] == str(gateway.pk)
    gateway.refresh_from_db()
    assert gateway.name == "renamed"
    assert Gateway.objects.count() == 1


def test_re_enrolling_keeps_existing_tags(enroll_client, org, alice, gateway):
    gateway.tags.add(Tag.objects.create(organization=org, key="team", value="core"))
    _, raw = services.create_registration_token(org, name="again", created_by=alice, allow_re_enroll=True)
    enroll_client(raw, {"name": "gw-1", "tags": ["env=prod"]})
    assert sorted(map(str, gateway.tags.all())) == ["env=prod", "team=core"]


def test_an_instance_uid_of_another_org_is_a_conflict(enroll_client, registration, other_org):
    Gateway.objects.create(organization=other_org, name="theirs", instance_uid=UID)
    r = enroll_client(registration[1], {"name": "mine", "instance_uid": UID})
    assert r.status_code == 409
    assert "another organization" in r.json()["detail"]
    assert RegistrationToken.objects.get().uses == 0
    assert not Gateway.objects.filter(name="mine").exists()


def test_a_name_and_uid_of_two_different_gateways_is_a_conflict(enroll_client, registration, org, gateway):
    Gateway.objects.create(organization=org, name="other", instance_uid=UID)
    r = enroll_client(registration[1], {"name": "gw-1", "instance_uid": UID})
    assert r.status_code == 409
    assert "two different gateways" in r.json()["detail"]
    assert not OpAMPToken.objects.exists()


def test_a_multi_use_token_enrolls_several_gateways(enroll_client, org, alice):
    row, raw = services.create_registration_token(org, name="fleet", created_by=alice, max_uses=3)
    codes = [enroll_client(raw, {"name": f"gw-{i}"}).status_code for i in range(4)]
    assert codes == [201, 201, 201, 401]
    row.refresh_from_db()
    assert row.uses == 3 and row.state() == "used up"


def test_the_register_route_is_not_taken_for_a_gateway_id(api_client, registration):
    # GET is simply not allowed there; it never reaches the gateways detail route.
    assert api_client.get("/api/v1/gateways/register").status_code == 405
    assert api_client.get("/api/v1/gateways/register/").status_code == 405
