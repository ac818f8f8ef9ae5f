"""Gateway pages (list filters, detail, tags, tokens) and registration token pages."""

import pytest
from django.urls import reverse
from django.utils import timezone

from core_app.models import AuditLog
from gateways_app.models import Gateway, GatewayStatus, OpAMPToken, RegistrationToken, Tag
from gateways_app.services import issue_opamp_token
from opamp_core.messages import Caps

pytestmark = pytest.mark.django_db


def names(response):
    return [gateway.name for gateway in response.context["page"]]


def test_the_list_filters_by_status_search_and_tag(alice_browser, acme_fleet, org):
    Gateway.objects.create(organization=org, name="edge-9", hostname="far.example.org", status=GatewayStatus.OFFLINE)
    url = reverse("gateways:list")
    assert names(alice_browser.get(url + "?status=offline")) == ["edge-9"]
    assert names(alice_browser.get(url + "?search=far.example")) == ["edge-9"]
    assert names(alice_browser.get(url + "?tag=env=prod")) == ["acme-0", "acme-1", "acme-2"]


def test_the_list_shows_config_drift(alice_browser, acme_fleet):
    Gateway.objects.filter(name="acme-1").update(desired_config_hash="a" * 64, remote_config_hash="b" * 64)
    response = alice_browser.get(reverse("gateways:list") + "?drift=1")
    assert names(response) == ["acme-1"]
    assert "drift</span>" in response.content.decode()


def test_the_pages_show_the_transport_of_the_latest_connection(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.ONLINE, transport="http")
    detail = reverse("gateways:detail", args=[gateway.pk])
    assert "connected · HTTP" in alice_browser.get(reverse("gateways:list")).content.decode()
    assert "connected over plain HTTP" in alice_browser.get(detail).content.decode()
    Gateway.objects.filter(pk=gateway.pk).update(status=GatewayStatus.OFFLINE, transport="websocket")
    assert "(last over WebSocket)" in alice_browser.get(detail).content.decode()
    assert "· WebSocket" not in alice_browser.get(reverse("gateways:list")).content.decode()


def test_a_bad_filter_is_explained(alice_browser, acme_fleet):
    response = alice_browser.get(reverse("gateways:list") + "?tag=nokeyvalue")
    assert "Tags are written" in response.content.decode()


def test_the_detail_names_every_capability_bit(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    Gateway.objects.filter(pk=gateway.pk).update(
        capabilities=Caps.AgentCapabilities_ReportsStatus | Caps.AgentCapabilities_AcceptsRestartCommand
    )
    response = alice_browser.get(reverse("gateways:detail", args=[gateway.pk]))
    table = dict(response.context["capabilities"])
    assert table["ReportsStatus"] is True and table["AcceptsRestartCommand"] is True
    assert table["ReportsHealth"] is False
    assert '<li class="off">ReportsHealth</li>' in response.content.decode()


def test_the_detail_shows_health_supervisor_and_config_diff(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    collector = {
        "healthy": False,
        "status": "restarting after a crash",
        "last_error": "exit status 1: bad exporter",
        "attributes": {"collector.restarts": 3},
        "component_health_map": {},
    }
    Gateway.objects.filter(pk=gateway.pk).update(
        health={"healthy": False, "status": "degraded", "component_health_map": {"collector": collector}},
        desired_config="a: 1\n",
        effective_config="a: 2\n",
    )
    response = alice_browser.get(reverse("gateways:detail", args=[gateway.pk]))
    assert response.context["supervisor"]["restarts"] == 3
    content = response.content.decode()
    assert "exit status 1: bad exporter" in content and "<strong>collector</strong>" in content
    assert '<td class="del">-a: 1</td>' in content and '<td class="add">+a: 2</td>' in content


def test_editing_tags_adds_new_ones_and_is_audited(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    data = {"name": "acme-0", "tags": [acme_fleet["tag"].pk], "new_tags": "region=eu-west tier=edge"}
    response = alice_browser.post(reverse("gateways:edit", args=[gateway.pk]), data)
    assert response.status_code == 302
    assert sorted(str(tag) for tag in gateway.tags.all()) == ["env=prod", "region=eu-west", "tier=edge"]
    assert AuditLog.objects.filter(action="gateway.updated", object_id=str(gateway.pk)).exists()


def test_a_bad_new_tag_is_an_error_and_nothing_changes(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    data = {"name": "renamed", "tags": [acme_fleet["tag"].pk], "new_tags": "no-equals-sign"}
    response = alice_browser.post(reverse("gateways:edit", args=[gateway.pk]), data)
    assert response.status_code == 400
    assert "Tags are written" in response.content.decode()
    gateway.refresh_from_db()
    assert gateway.name == "acme-0"


def test_a_duplicate_name_is_an_error_next_to_the_name(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    response = alice_browser.post(reverse("gateways:edit", args=[gateway.pk]), {"name": "acme-1"})
    assert response.status_code == 400
    assert 'id="errors-name"' in response.content.decode()


def test_reissuing_shows_the_new_token_once_and_revokes_the_old(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    old, _ = issue_opamp_token(gateway)
    response = alice_browser.post(reverse("gateways:reissue-token", args=[gateway.pk]))
    assert response.status_code == 200
    assert response.context["raw"].count(".") == 2  # a JWT, shown on this answer only
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert OpAMPToken.objects.filter(gateway=gateway, revoked_at__isnull=True).count() == 1


def test_revoking_cuts_the_gateway_off(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    issue_opamp_token(gateway)
    alice_browser.post(reverse("gateways:revoke-token", args=[gateway.pk]))
    assert not OpAMPToken.objects.filter(gateway=gateway, revoked_at__isnull=True).exists()


def test_a_restart_of_an_agent_that_cannot_restart_is_refused_with_a_reason(alice_browser, acme_fleet):
    gateway = acme_fleet["gateway"]
    response = alice_browser.post(reverse("gateways:restart", args=[gateway.pk]), follow=True)
    assert "cannot be restarted remotely" in response.content.decode()


def test_creating_a_registration_token_shows_it_once_with_the_enroll_command(alice_browser, acme_fleet, settings):
    settings.FLOWGATE_PUBLIC_URL = "https://flowgate.example.com"
    data = {"name": "rack-7", "max_uses": 5, "tags": [acme_fleet["tag"].pk], "expires_at": ""}
    response = alice_browser.post(reverse("gateways:token-create"), data)
    raw = response.context["raw"]
    assert response.context["command"] == (
        "~/flowgate-gateway/bin/flowgate-gateway --portal-url https://flowgate.example.com "
        f"--registration-token {raw} --state-dir ~/flowgate-gateway/state"
    )
    assert response.context["install"].startswith("python3 -m venv ~/flowgate-gateway && ")
    assert 'data-copy="install-command"' in response.content.decode()
    assert 'data-copy="registration-token"' in response.content.decode()
    token = RegistrationToken.objects.get(name="rack-7")
    assert token.max_uses == 5 and list(token.tags.all()) == [acme_fleet["tag"]]
    assert raw not in alice_browser.get(reverse("gateways:tokens")).content.decode()


def test_a_token_expiring_in_the_past_is_an_error_next_to_the_field(alice_browser, org):
    data = {"name": "old", "max_uses": 1, "expires_at": "2000-01-01 00:00"}
    response = alice_browser.post(reverse("gateways:token-create"), data)
    assert response.context["form"].errors["expires_at"] == ["Choose a time in the future."]
    assert not RegistrationToken.objects.exists()


def test_the_token_list_shows_uses_expiry_and_state(alice_browser, acme_fleet):
    RegistrationToken.objects.filter(pk=acme_fleet["token"].pk).update(uses=1)
    content = alice_browser.get(reverse("gateways:tokens")).content.decode()
    assert "1 / 1" in content and "used up</span>" in content


def test_revoking_a_registration_token(alice_browser, acme_fleet):
    token = acme_fleet["token"]
    alice_browser.post(reverse("gateways:token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None and token.state(timezone.now()) == "revoked"


def test_tag_choices_are_the_current_orgs(alice_browser, acme_fleet, globex_fleet):
    response = alice_browser.get(reverse("gateways:detail", args=[acme_fleet["gateway"].pk]))
    assert set(response.context["form"].fields["tags"].queryset) == set(Tag.objects.for_org(acme_fleet["org"]))
