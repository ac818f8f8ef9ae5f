from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from core_app.models import AuditLog, Strategy
from core_app.services import get_org_settings
from deployments_app import target_check
from deployments_app.models import Deployment, DeploymentStatus, DeploymentTarget, TargetStatus
from deployments_app.services import create_deployment
from gateways_app.models import Gateway
from tests.deployments_app.conftest import make_tag, make_version

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def deploy(org, version, alice, **kwargs):
    kwargs.setdefault("selector_tags", [make_tag(org, "env=prod")])
    return create_deployment(org, template_version=version, user=alice, now=NOW, **kwargs)


def test_it_creates_one_target_per_selected_gateway(org, alice, version, fleet):
    deployment = deploy(org, version, alice)
    targets = deployment.targets.order_by("gateway__name")
    assert [target.gateway.name for target in targets] == ["eu-1", "eu-2", "us-1"]
    assert deployment.created_by == alice


def test_it_records_each_gateways_previous_config(org, alice, version, fleet):
    Gateway.objects.filter(pk=fleet["eu1"].pk).update(desired_config="old: 1\n", desired_config_hash="a" * 64)
    deploy(org, version, alice)
    target = DeploymentTarget.objects.get(gateway=fleet["eu1"])
    assert (target.previous_config, target.previous_config_hash) == ("old: 1\n", "a" * 64)
    assert DeploymentTarget.objects.get(gateway=fleet["eu2"]).previous_config == ""


def test_it_changes_no_desired_config_itself(org, alice, version, fleet):
    deploy(org, version, alice, strategy=Strategy.ALL_AT_ONCE)
    # The rollout engine sends the batches, from its first tick after the commit on.
    assert not Gateway.objects.exclude(desired_config_hash="").exists()


def test_its_first_tick_after_the_commit_sends_batch_0(org, alice, version, fleet, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deploy(org, version, alice, strategy=Strategy.ROLLING, batch_size=2)
    desired = dict(Gateway.objects.values_list("name", "desired_config_hash"))
    assert desired == {"eu-1": version.sha256, "eu-2": version.sha256, "us-1": "", "stg-1": ""}


def test_it_refuses_gateways_still_in_an_unfinished_deployment(org, alice, version, fleet):
    first = deploy(org, version, alice)
    with pytest.raises(ValidationError) as exc:
        deploy(org, make_version(org, name="edge"), alice, selector_gateways=[fleet["stg"]])
    assert exc.value.messages == [
        f"Gateways eu-1, eu-2, us-1 are still in deployment {first.pk} (base v1, validating): "
        "wait for it to finish, or cancel it."
    ]


def test_a_gateway_whose_target_settled_may_be_deployed_again(org, alice, version, fleet):
    deploy(org, version, alice)
    DeploymentTarget.objects.update(status=TargetStatus.APPLIED)
    second = deploy(org, make_version(org, name="edge"), alice)
    assert second.targets.count() == 3


def test_it_leaves_the_deployment_validating_for_the_task(org, alice, version, fleet):
    deployment = deploy(org, version, alice)
    deployment.refresh_from_db()
    assert (deployment.status, deployment.started_at) == (DeploymentStatus.VALIDATING, None)
    assert not deployment.events.exists()  # nothing is sent before the validating task passed it
    deployment = target_check.validate(deployment.pk, now=NOW)
    assert deployment.status == DeploymentStatus.ROLLING_OUT
    assert deployment.started_at == NOW


def test_it_numbers_batches_by_strategy(org, alice, version, fleet):
    deployment = deploy(org, version, alice, strategy=Strategy.CANARY, canary_count=1, batch_size=1)
    batches = list(deployment.targets.order_by("gateway__name").values_list("gateway__name", "batch"))
    assert batches == [("eu-1", 0), ("eu-2", 1), ("us-1", 2)]


def test_it_audits_the_creation_with_the_target_count(org, alice, version, fleet):
    deployment = deploy(org, version, alice)
    entry = AuditLog.objects.get(action="deployment.created")
    assert (entry.organization, entry.actor_user, entry.object_id) == (org, alice, str(deployment.pk))
    assert entry.changes["target_count"] == 3


def test_it_fills_missing_settings_from_the_org_defaults(org, alice, version, fleet):
    org_settings = get_org_settings(org)
    org_settings.default_strategy = Strategy.CANARY
    org_settings.default_batch_percent = 40
    org_settings.default_canary_percent = 20
    org_settings.default_auto_rollback = False
    org_settings.default_failure_threshold_percent = 5
    org_settings.default_health_window_seconds = 90
    org_settings.save()
    d = deploy(org, version, alice)
    assert (d.strategy, d.batch_percent, d.canary_percent, d.auto_rollback) == ("canary", 40, 20, False)
    assert (d.failure_threshold_percent, d.health_window_seconds) == (5, 90)


def test_given_settings_win_over_the_defaults(org, alice, version, fleet):
    d = deploy(org, version, alice, strategy=Strategy.ROLLING, batch_size=2, failure_threshold_count=1)
    # A batch size excludes the default batch percent; a count threshold the default percent.
    assert (d.strategy, d.batch_size, d.batch_percent) == ("rolling", 2, None)
    assert (d.failure_threshold_count, d.failure_threshold_percent) == (1, None)


def test_it_keeps_the_selector(org, alice, version, fleet):
    d = deploy(org, version, alice, selector_tags=[make_tag(org, "region=us")], selector_gateways=[fleet["stg"]])
    assert [str(tag) for tag in d.selector_tags.all()] == ["region=us"]
    assert list(d.selector_gateways.all()) == [fleet["stg"]]
    assert d.targets.count() == 2


def assert_nothing_written(fleet):
    assert Deployment.objects.count() == 0
    assert DeploymentTarget.objects.count() == 0
    assert AuditLog.objects.filter(action="deployment.created").count() == 0
    assert not Gateway.objects.exclude(desired_config_hash="").exists()


def test_it_refuses_a_selector_matching_no_gateway(org, alice, version, fleet):
    with pytest.raises(ValidationError) as exc:
        deploy(org, version, alice, selector_tags=[make_tag(org, "env=dev")])
    assert exc.value.messages == ["The selector matches no gateway."]
    assert_nothing_written(fleet)


def test_it_refuses_another_orgs_version(org, other_org, alice, fleet):
    with pytest.raises(ValidationError) as exc:
        deploy(org, make_version(other_org), alice)
    assert "does not exist" in exc.value.message_dict["template_version"][0]
    assert_nothing_written(fleet)


def test_it_refuses_another_orgs_tag_and_gateway(org, other_org, alice, version, fleet):
    from tests.deployments_app.conftest import make_gateway

    outsider = make_gateway(other_org, "globex-1", "env=prod")
    with pytest.raises(ValidationError) as exc:
        deploy(org, version, alice, selector_tags=[make_tag(other_org, "env=prod")], selector_gateways=[outsider])
    assert set(exc.value.message_dict) == {"selector_tags", "selector_gateways"}
    assert_nothing_written(fleet)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"strategy": Strategy.ROLLING, "batch_size": 2, "batch_percent": 50}, "batch_percent"),
        ({"strategy": Strategy.CANARY, "canary_count": 1, "canary_percent": 10}, "canary_percent"),
        ({"strategy": Strategy.ROLLING, "batch_percent": 101}, "batch_percent"),
        ({"strategy": Strategy.CANARY, "canary_percent": 0}, "canary_percent"),
        ({"strategy": Strategy.ALL_AT_ONCE, "batch_size": 2}, "batch_size"),
        ({"strategy": Strategy.ROLLING, "canary_count": 1}, "canary_count"),
        ({"failure_threshold_percent": 200}, "failure_threshold_percent"),
    ],
)
def test_it_refuses_bad_strategy_settings_naming_the_field(org, alice, version, fleet, params, field):
    with pytest.raises(ValidationError) as exc:
        deploy(org, version, alice, **params)
    assert list(exc.value.message_dict) == [field]
    assert_nothing_written(fleet)


def test_a_failure_after_the_first_writes_rolls_everything_back(org, alice, version, fleet, monkeypatch):
    from deployments_app import services

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services.audit, "record", broken_audit)
    with pytest.raises(RuntimeError):
        deploy(org, version, alice)
    assert_nothing_written(fleet)
