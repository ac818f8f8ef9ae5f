import pytest
from django.utils import timezone

from core_app.models import AuditLog
from core_app.roles import Role
from gateways_app import services
from gateways_app.models import Gateway, GatewayStatus, OpAMPToken, Tag
from gateways_app.tokens import TokenError, verify_opamp_token


def url(gateway=None, action=None):
    path = "/api/v1/gateways/"
    if gateway is not None:
        path += f"{gateway.pk}/"
    if action:
        path += f"{action}/"
    return path


def names(response):
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


@pytest.fixture
def fleet(org, other_org):
    prod = Tag.objects.create(organization=org, key="env", value="prod")
    eu = Tag.objects.create(organization=org, key="region", value="eu")
    a = Gateway.objects.create(organization=org, name="alpha", hostname="a.example.com", status=GatewayStatus.ONLINE)
    b = Gateway.objects.create(organization=org, name="bravo", hostname="b.internal", mode="extension")
    c = Gateway.objects.create(
        organization=org, name="charlie", remote_config_status="failed", last_seen=timezone.now()
    )
    a.tags.add(prod, eu)
    b.tags.add(prod)
    Gateway.objects.create(organization=other_org, name="globex-gw")
    return a, b, c


def test_it_lists_only_the_callers_gateways(api_client, fleet):
    assert names(api_client.get(url())) == ["alpha", "bravo", "charlie"]


def test_it_shows_a_gateway_with_reported_state(api_client, fleet):
    body = api_client.get(url(fleet[0])).json()
    assert body["name"] == "alpha" and body["organization"] == "acme" and body["status"] == "online"
    assert sorted(body["tags"]) == ["env=prod", "region=eu"]
    assert {"capabilities", "health", "effective_config_hash", "remote_config_status", "desired_config_hash"} <= set(
        body
    )


def test_it_hides_other_orgs_gateways(charlie_client, fleet):
    assert charlie_client.get(url(fleet[0])).status_code == 404
    assert charlie_client.patch(url(fleet[0]), {"name": "x"}).status_code == 404
    assert charlie_client.post(url(fleet[0], "revoke-token")).status_code == 404


def test_it_does_not_create_gateways_by_post(api_client, org):
    assert api_client.post(url(), {"name": "x"}).status_code == 405


def test_it_renames_and_retags_a_gateway(api_client, fleet, org):
    r = api_client.patch(url(fleet[1]), {"name": "bravo-2", "tags": ["env=staging", "team=core"]})
    assert r.status_code == 200, r.json()
    fleet[1].refresh_from_db()
    assert fleet[1].name == "bravo-2"
    assert sorted(map(str, fleet[1].tags.all())) == ["env=staging", "team=core"]
    entry = AuditLog.objects.get(action="gateway.updated")
    assert entry.changes["name"] == {"from": "bravo", "to": "bravo-2"}


def test_it_refuses_to_change_reported_fields(api_client, fleet):
    r = api_client.patch(url(fleet[1]), {"status": "online"})
    assert r.status_code == 400 and r.json() == {"status": ["Unknown field."]}


def test_it_refuses_a_duplicate_name(api_client, fleet):
    r = api_client.patch(url(fleet[1]), {"name": "alpha"})
    assert r.status_code == 400 and "already exists" in r.json()["name"][0]


def test_it_refuses_bad_tags(api_client, fleet):
    r = api_client.patch(url(fleet[1]), {"tags": ["nope"]})
    assert r.status_code == 400 and "tags" in r.json()
    assert list(map(str, fleet[1].tags.all())) == ["env=prod"]


def test_it_deletes_a_gateway_with_an_audit_entry(api_client, fleet):
    assert api_client.delete(url(fleet[2])).status_code == 204
    assert not Gateway.objects.filter(pk=fleet[2].pk).exists()
    assert AuditLog.objects.filter(action="gateway.deleted", object_id=str(fleet[2].pk)).exists()


@pytest.mark.parametrize("bob_role", [Role.VIEWER, Role.EDITOR])
def test_it_needs_the_admin_role_to_change_gateways(bob_client, fleet, bob_role):
    assert bob_client.get(url(fleet[0])).status_code == 200
    assert bob_client.patch(url(fleet[0]), {"name": "x"}).status_code == 403
    assert bob_client.delete(url(fleet[0])).status_code == 403
    assert bob_client.post(url(fleet[0], "reissue-token")).status_code == 403
    assert bob_client.post(url(fleet[0], "mark-offline")).status_code == 403


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=online", ["alpha"]),
        ("mode=extension", ["bravo"]),
        ("remote_config_status=failed", ["charlie"]),
        ("tag=env=prod", ["alpha", "bravo"]),
        ("tag=env=prod&tag=region=eu", ["alpha"]),
        ("search=internal", ["bravo"]),
        ("search=CHAR", ["charlie"]),
        ("organization=acme&ordering=-name", ["charlie", "bravo", "alpha"]),
        ("organization=globex", []),
    ],
)
def test_it_filters_gateways(api_client, fleet, query, expected):
    assert names(api_client.get(f"{url()}?{query}")) == expected


def test_it_rejects_a_malformed_tag_filter(api_client, fleet):
    r = api_client.get(f"{url()}?tag=env")
    assert r.status_code == 400 and "tag" in r.json()


def test_it_revokes_a_gateways_tokens(api_client, gateway):
    _, raw = services.issue_opamp_token(gateway)
    r = api_client.post(url(gateway, "revoke-token"))
    assert r.json() == {"revoked": 1}
    with pytest.raises(TokenError, match="revoked"):
        verify_opamp_token(raw)
    assert AuditLog.objects.filter(action="gateway.tokens_revoked").exists()


def test_it_reissues_a_token_once(api_client, gateway):
    _, old = services.issue_opamp_token(gateway)
    r = api_client.post(url(gateway, "reissue-token"))
    assert r.status_code == 200
    new = r.json()["opamp_token"]
    assert verify_opamp_token(new).gateway == gateway
    with pytest.raises(TokenError):
        verify_opamp_token(old)
    # The token is not shown anywhere afterwards.
    assert new not in api_client.get(url(gateway)).content.decode()


def test_it_marks_a_gateway_offline(api_client, fleet):
    r = api_client.post(url(fleet[0], "mark-offline"))
    assert r.status_code == 200 and r.json()["status"] == "offline"
    assert AuditLog.objects.filter(action="gateway.marked_offline", object_id=str(fleet[0].pk)).exists()


def test_revoking_sends_the_signal_after_commit(gateway, alice, django_capture_on_commit_callbacks):
    from gateways_app.signals import opamp_tokens_revoked

    services.issue_opamp_token(gateway)
    received = []

    def receiver(sender, gateway_id, **kwargs):
        received.append(gateway_id)

    opamp_tokens_revoked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.revoke_opamp_tokens(gateway, alice)
    finally:
        opamp_tokens_revoked.disconnect(receiver)
    assert received == [gateway.pk]
    assert OpAMPToken.objects.filter(revoked_at__isnull=True).count() == 0
