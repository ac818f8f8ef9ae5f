"""The rollout in the API: progress per batch, the timeline, operator actions, roll back to a version."""

import pytest

from core_app.models import Strategy
from core_app.roles import Role
from deployments_app.models import Deployment, DeploymentStatus
from gateways_app.models import GatewayStatus
from templates_app.models import sha256_of
from tests.deployments_app.conftest import make_gateway, make_version
from tests.deployments_app.engine import NEW, OLD, deploy, make_fleet, new_version, set_status, tick

URL = "/api/v1/deployments/"


@pytest.fixture
def fleet(org):
    return make_fleet(org, 5)


@pytest.fixture
def rolling(org, alice, fleet):
    """A rolling deployment in batches of 2 whose batch 0 was sent; gw-02 waits offline."""
    set_status(GatewayStatus.OFFLINE, "gw-02")
    return tick(deploy(org, alice, new_version(org), fleet, strategy=Strategy.ROLLING, batch_size=2), 0)


def test_the_detail_shows_progress_per_batch(api_client, rolling):
    data = api_client.get(f"{URL}{rolling.pk}/").data
    assert data["batches"][0] == {
        "batch": 0,
        "label": "Batch 1",
        "state": "in_progress",
        "total": 2,
        "pending": 1,
        "sent": 1,
        "applied": 0,
        "failed": 0,
        "rolled_back": 0,
        "returning": 0,
        "waiting_offline": 1,
    }
    assert [(row["batch"], row["state"], row["total"]) for row in data["batches"][1:]] == [
        (1, "not_started", 2),
        (2, "not_started", 1),
    ]


def test_the_detail_says_how_many_targets_wait_for_their_gateway(api_client, rolling):
    data = api_client.get(f"{URL}{rolling.pk}/").data
    assert (data["waiting_offline"], data["current_batch"]) == (1, 0)
    assert data["progress"] == {"pending": 4, "sent": 1, "applied": 0, "failed": 0, "rolled_back": 0, "returning": 0}


def test_the_list_says_how_many_targets_wait_too(api_client, rolling):
    [item] = api_client.get(URL).data["results"]
    assert item["waiting_offline"] == 1
    assert "events" not in item  # the timeline is in the detail only


def test_the_detail_shows_the_timeline(api_client, rolling):
    events = api_client.get(f"{URL}{rolling.pk}/").data["events"]
    assert [(event["kind"], event["count"]) for event in events] == [
        ("validated", 5),
        ("started", 5),
        ("batch_started", 2),
    ]
    assert events[2]["data"]["waiting_offline"] == 1
    assert events[2]["message"] == "Batch 1 started: sent to 1 target(s), 1 wait for their gateway to connect."


def test_creating_answers_with_the_resolved_target_count_and_the_timeline(api_client, org, fleet):
    version = new_version(org)
    body = {"template_version": str(version.pk), "selector_gateways": [str(gateway.pk) for gateway in fleet]}
    response = api_client.post(URL, body)
    assert response.status_code == 201, response.data
    # Validated by a task after the commit: nothing has happened yet.
    assert (response.data["target_count"], response.data["status"]) == (5, "validating")
    assert response.data["events"] == []


@pytest.mark.parametrize(
    "action, status, kind",
    [
        ("pause", "paused", "paused"),
        ("cancel", "cancelled", "cancelled"),
        ("rollback", "rolling_back", "rollback_started"),
    ],
)
def test_an_action_answers_with_the_deployment_after_it(api_client, rolling, action, status, kind):
    response = api_client.post(f"{URL}{rolling.pk}/{action}/")
    assert response.status_code == 200, response.data
    assert response.data["status"] == status
    assert response.data["events"][-1]["kind"] == kind


def test_resume_goes_on_with_a_paused_deployment(api_client, rolling):
    api_client.post(f"{URL}{rolling.pk}/pause/")
    response = api_client.post(f"{URL}{rolling.pk}/resume/")
    assert response.status_code == 200, response.data
    assert response.data["status"] == "rolling_out"


@pytest.mark.parametrize(
    "action, message",
    [
        ("pause", "Only a rolling-out deployment can be paused; this one is cancelled."),
        ("resume", "Only a paused deployment can be resumed; this one is cancelled."),
        ("cancel", "This deployment has already finished (cancelled): nothing to cancel."),
    ],
)
def test_an_action_the_status_does_not_allow_is_a_conflict(api_client, rolling, action, message):
    api_client.post(f"{URL}{rolling.pk}/cancel/")
    response = api_client.post(f"{URL}{rolling.pk}/{action}/")
    assert response.status_code == 409
    assert response.data == {"detail": message}


def test_a_second_rollback_is_a_conflict(api_client, rolling):
    assert api_client.post(f"{URL}{rolling.pk}/rollback/").status_code == 200
    response = api_client.post(f"{URL}{rolling.pk}/rollback/")
    assert (response.status_code, response.data["detail"]) == (409, "This deployment has already been rolled back.")


@pytest.mark.parametrize("bob_role", [Role.VIEWER])
@pytest.mark.parametrize("action", ["pause", "resume", "cancel", "rollback"])
def test_a_viewer_cannot_act_on_a_deployment(bob_client, rolling, action):
    response = bob_client.post(f"{URL}{rolling.pk}/{action}/")
    assert response.status_code == 403
    assert Deployment.objects.get(pk=rolling.pk).status == DeploymentStatus.ROLLING_OUT


def test_an_editor_may_act_on_a_deployment(bob_client, rolling):
    assert bob_client.post(f"{URL}{rolling.pk}/pause/").status_code == 200


@pytest.fixture
def edge(org):
    """Template "edge" with v1 (OLD) and v2 (NEW); two gateways on v2."""
    v1 = make_version(org, name="edge", config_yaml=OLD, number=1)
    make_version(org, name="edge", config_yaml=NEW, number=2)
    for name in ("a", "b"):
        make_gateway(org, name, desired_config=NEW, desired_config_hash=sha256_of(NEW))
    return v1


def rollback_url(version, number):
    return f"/api/v1/templates/{version.template_id}/versions/{number}/rollback/"


def test_rolling_a_template_back_to_a_version_creates_a_deployment_of_it(api_client, edge):
    response = api_client.post(rollback_url(edge, 1), {"strategy": "all_at_once"})
    assert response.status_code == 201, response.data
    assert (response.data["template_version"], response.data["template_version_number"]) == (edge.pk, 1)
    assert (response.data["target_count"], response.data["strategy"]) == (2, "all_at_once")


def test_rolling_back_to_the_version_every_gateway_runs_is_a_conflict(api_client, edge):
    response = api_client.post(rollback_url(edge, 2))
    assert response.status_code == 409
    assert response.data["detail"] == "No gateway runs another version of edge: there is nothing to roll back."


def test_rolling_back_to_a_missing_version_is_not_found(api_client, edge):
    assert api_client.post(rollback_url(edge, 9)).status_code == 404


def test_rolling_back_refuses_unknown_settings(api_client, edge):
    response = api_client.post(rollback_url(edge, 1), {"speed": "fast"})
    assert response.status_code == 400
    assert response.data == {"speed": ["Unknown field."]}


@pytest.mark.parametrize("bob_role", [Role.VIEWER])
def test_a_viewer_cannot_roll_a_template_back(bob_client, edge):
    assert bob_client.post(rollback_url(edge, 1)).status_code == 403
    assert not Deployment.objects.exists()
