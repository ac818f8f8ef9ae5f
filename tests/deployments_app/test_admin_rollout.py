"""Operator actions in the admin: pause, resume, cancel and roll back selected deployments; the timeline."""

import pytest

from core_app.models import Strategy
from core_app.roles import Role
from deployments_app.models import Deployment, DeploymentStatus
from gateways_app.models import GatewayStatus
from tests.deployments_app.engine import deploy, make_fleet, new_version, set_status, tick
from tests.deployments_app.test_admin import LIST_URL, admin_client


@pytest.fixture
def rolling(org, alice):
    fleet = make_fleet(org, 3)
    set_status(GatewayStatus.OFFLINE, "gw-02")
    return tick(deploy(org, alice, new_version(org), fleet, strategy=Strategy.ROLLING, batch_size=2), 0)


def act(user, action, *deployments):
    data = {"action": action, "_selected_action": [str(deployment.pk) for deployment in deployments]}
    return admin_client(user).post(LIST_URL, data, follow=True)


def status_of(deployment):
    return Deployment.objects.get(pk=deployment.pk).status


@pytest.mark.parametrize(
    "action, status",
    [("pause_deployments", "paused"), ("cancel_deployments", "cancelled"), ("roll_back_deployments", "rolling_back")],
)
def test_an_admin_action_changes_the_selected_deployments(alice, rolling, action, status):
    response = act(alice, action, rolling)
    assert status_of(rolling) == status
    assert "1 deployment(s)" in response.content.decode()


def test_resume_goes_on_with_a_paused_deployment(alice, rolling):
    act(alice, "pause_deployments", rolling)
    act(alice, "resume_deployments", rolling)
    assert status_of(rolling) == DeploymentStatus.ROLLING_OUT


def test_an_action_the_status_does_not_allow_is_reported_not_done(alice, rolling):
    response = act(alice, "resume_deployments", rolling)
    assert "Only a paused deployment can be resumed; this one is rolling out." in response.content.decode()
    assert status_of(rolling) == DeploymentStatus.ROLLING_OUT


@pytest.mark.parametrize("bob_role", [Role.VIEWER])
def test_a_viewer_is_not_offered_the_actions(bob, rolling):
    response = admin_client(bob).get(LIST_URL)
    assert response.status_code == 200
    assert "pause_deployments" not in response.content.decode()
    act(bob, "pause_deployments", rolling)
    assert status_of(rolling) == DeploymentStatus.ROLLING_OUT


def test_the_detail_page_shows_the_timeline_and_the_waiting_count(alice, rolling):
    body = admin_client(alice).get(f"{LIST_URL}{rolling.pk}/change/").content.decode()
    assert "Batch 1 started: sent to 1 target(s), 1 wait for their gateway to connect." in body
    assert "(1 waiting for their gateway to connect)" in body
