"""Restarting a gateway's collector from the portal: the API action and the admin action."""

import pytest
from django.urls import reverse

from core_app.models import AuditLog
from gateways_app.models import Gateway, GatewayStatus
from opamp_app import push
from opamp_core.proto import opamp_pb2

CAN_RESTART = opamp_pb2.AgentCapabilities.AgentCapabilities_AcceptsRestartCommand


@pytest.fixture
def pushed(monkeypatch):
    """The gateway ids a Restart command was pushed to (through the channel layer)."""
    sent = []
    monkeypatch.setattr(push, "request_restart", sent.append)
    return sent


def restartable(gateway, **fields):
    values = {"capabilities": CAN_RESTART, "status": GatewayStatus.ONLINE, **fields}
    Gateway.objects.filter(pk=gateway.pk).update(**values)
    return Gateway.objects.get(pk=gateway.pk)


def test_restart_sends_the_command_after_commit_and_audits_it(
    api_client, gateway, pushed, django_capture_on_commit_callbacks
):
    restartable(gateway)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/v1/gateways/{gateway.pk}/restart/")
    assert response.status_code == 202, response.content
    assert pushed == [gateway.pk]
    assert AuditLog.objects.filter(action="gateway.restart_requested", object_id=str(gateway.pk)).exists()


def test_restart_is_refused_when_the_agent_lacks_accepts_restart_command(api_client, gateway, pushed):
    restartable(gateway, capabilities=0)
    response = api_client.post(f"/api/v1/gateways/{gateway.pk}/restart/")
    assert response.status_code == 409
    assert "AcceptsRestartCommand" in response.json()["detail"]
    assert pushed == [] and not AuditLog.objects.filter(action="gateway.restart_requested").exists()


def test_restart_is_refused_for_an_offline_gateway(api_client, gateway, pushed):
    restartable(gateway, status=GatewayStatus.OFFLINE)
    response = api_client.post(f"/api/v1/gateways/{gateway.pk}/restart/")
    assert response.status_code == 409 and "offline" in response.json()["detail"]


def test_restart_needs_the_admin_role(bob_client, gateway, pushed):
    restartable(gateway)
    assert bob_client.post(f"/api/v1/gateways/{gateway.pk}/restart/").status_code == 403
    assert pushed == []


def test_the_admin_action_restarts_and_reports_refusals(
    client, alice, org, gateway, pushed, django_capture_on_commit_callbacks
):
    restartable(gateway)
    old = Gateway.objects.create(organization=org, name="gw-old", status=GatewayStatus.ONLINE)
    client.force_login(alice)
    data = {"action": "restart", "_selected_action": [str(gateway.pk), str(old.pk)]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:gateways_app_gateway_changelist"), data, follow=True)
    texts = [str(message) for message in response.context["messages"]]
    assert "Restart requested for 1 gateway(s)." in texts
    assert any("gw-old" in text and "AcceptsRestartCommand" in text for text in texts)
    assert pushed == [gateway.pk]
