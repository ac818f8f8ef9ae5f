"""Before vs after of a deployment and of a template version: placements, pages, API, org scoping, query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from deployments_app import comparison
from deployments_app.models import Deployment, DeploymentStatus, DeploymentTarget, TargetStatus
from tests.deployments_app.conftest import make_gateway, make_version
from tests.pages.conftest import signed_in
from tests.telemetry_app.throughput_rows import rows

CONFIG_V2 = "receivers:\n  otlp:\n    protocols:\n      http: {}\n"


def minute(moment):
    return moment.replace(second=0, microsecond=0)


@pytest.fixture
def applied_at():
    return minute(timezone.now()) - timedelta(hours=3) + timedelta(seconds=20)


def deploy(org, version, gateways, applied_at, **target_fields):
    deployment = Deployment.objects.create(
        organization=org, template_version=version, status=DeploymentStatus.SUCCEEDED
    )
    for gateway in gateways:
        DeploymentTarget.objects.create(
            deployment=deployment,
            gateway=gateway,
            status=TargetStatus.APPLIED,
            sent_at=applied_at - timedelta(seconds=10),
            applied_at=applied_at,
            **target_fields,
        )
    return deployment


def traffic(gateway, applied_at, before, after, signal="logs"):
    """(in, out) in the hour before the change and the hour after it (from its settle margin)."""
    rows(gateway, minute(applied_at) - timedelta(hours=1), accepted=before[0], sent=before[1], signal=signal)
    rows(gateway, minute(applied_at) + timedelta(minutes=2), accepted=after[0], sent=after[1], signal=signal)


@pytest.fixture
def measured(org, applied_at):
    """v2 deployed to three gateways: two halve their logs, one never reported."""
    make_version(org, name="edge")
    version = make_version(org, name="edge", config_yaml=CONFIG_V2, number=2)
    gateways = [make_gateway(org, name) for name in ("edge-a", "edge-b", "<b>edge-c</b>")]
    traffic(gateways[0], applied_at, (1000, 1000), (1000, 500))
    traffic(gateways[1], applied_at, (3000, 3000), (6000, 3000))  # traffic doubled: out ÷ in halved too
    deployment = deploy(org, version, gateways, applied_at)
    return {"version": version, "deployment": deployment, "gateways": gateways}


def only(result, signal="logs"):
    (row,) = [row for row in result.signals if row.signal == signal]
    return row


def test_a_deployment_compares_its_applied_targets(measured):
    result = comparison.for_deployment(measured["deployment"])
    row = only(result)
    assert (row.gateways, row.before_out, row.after_out, row.reduction_percent) == (2, 4000, 3500, 50.0)
    assert (result.placed, result.compared, result.excluded) == (3, 2, ["<b>edge-c</b>"])


def test_targets_not_applied_or_already_running_the_version_are_left_out(org, measured, applied_at):
    edge_a, edge_b, _ = measured["gateways"]
    DeploymentTarget.objects.filter(gateway=edge_a).update(applied_at=None, status=TargetStatus.SENT)
    DeploymentTarget.objects.filter(gateway=edge_b).update(previous_config_hash=measured["version"].sha256)
    result = comparison.for_deployment(measured["deployment"])
    assert (result.placed, result.signals) == (1, [])


def test_a_version_aggregates_its_deployments_first_application_per_gateway(org, measured, applied_at):
    version = measured["version"]
    later = make_gateway(org, "edge-d")
    traffic(later, applied_at + timedelta(hours=1), (500, 500), (500, 500))
    deploy(org, version, [later], applied_at + timedelta(hours=1))
    # Deployed again to edge-a an hour later: its first application is the one compared.
    deploy(org, version, measured["gateways"][:1], applied_at + timedelta(hours=1))
    row = only(comparison.for_version(org, version))
    assert (row.gateways, row.before_out, row.after_out) == (3, 4500, 4000)


def test_the_deployment_page_loads_the_comparison_and_links_it_without_javascript(org, alice, measured):
    browser = signed_in(alice)
    url = reverse("deployments:comparison", args=[measured["deployment"].pk])
    page = browser.get(reverse("deployments:detail", args=[measured["deployment"].pk])).content.decode()
    assert f'hx-get="{url}"' in page and f'<a href="{url}">' in page
    fragment = browser.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert "v2 cut log records by 50 % on 2 gateways, compared over 1 h before and after." in fragment
    assert "&lt;b&gt;edge-c&lt;/b&gt;" in fragment and "<b>edge-c</b>" not in fragment
    assert "Method:" in fragment and "estimate" not in fragment  # no price set
    whole = browser.get(url).content.decode()
    assert "<html" in whole and "v2 cut log records by 50 %" in whole


def test_the_version_page_loads_the_comparison_of_its_deployments(org, alice, measured):
    browser = signed_in(alice)
    version = measured["version"]
    url = reverse("templates:comparison", args=[version.template_id, version.number])
    page = browser.get(reverse("templates:version", args=[version.template_id, version.number])).content.decode()
    assert f'hx-get="{url}"' in page
    fragment = browser.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "v2 cut log records by 50 % on 2 gateways" in fragment


def test_a_price_shows_an_estimated_monthly_saving(org, alice, measured):
    org.settings.price_per_million_log_records = Decimal("1000")
    org.settings.save()
    fragment = signed_in(alice).get(reverse("deployments:comparison", args=[measured["deployment"].pk])).content
    # (1.0 × 7,000 in/h after − 3,500 out/h) × 730 h × 1000 per million = 2,555.00
    assert "2,555.00" in fragment.decode() and "estimate" in fragment.decode()


def test_another_orgs_comparisons_are_404(charlie, charlie_client, measured):
    version = measured["version"]
    browser = signed_in(charlie)
    assert browser.get(reverse("deployments:comparison", args=[measured["deployment"].pk])).status_code == 404
    assert browser.get(reverse("templates:comparison", args=[version.template_id, 2])).status_code == 404
    assert charlie_client.get(f"/api/v1/deployments/{measured['deployment'].pk}/comparison/").status_code == 404
    assert charlie_client.get(f"/api/v1/templates/{version.template_id}/versions/2/comparison/").status_code == 404


def test_the_api_answers_the_same_figures(api_client, measured):
    answer = api_client.get(f"/api/v1/deployments/{measured['deployment'].pk}/comparison/")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["placed"], body["compared"], body["excluded"], body["window_minutes"]) == (3, 2, ["<b>edge-c</b>"], 60)
    (logs,) = body["signals"]
    assert logs["signal"] == "logs" and logs["gateways"] == 2
    assert (logs["before_out_per_hour"], logs["after_out_per_hour"], logs["reduction_percent"]) == (4000, 3500, 50.0)
    assert (logs["ratio_before"], logs["ratio_after"], logs["estimated_monthly_saving"]) == (1.0, 0.5, None)
    version = measured["version"]
    by_version = api_client.get(f"/api/v1/templates/{version.template_id}/versions/{version.number}/comparison")
    assert by_version.status_code == 200 and by_version.json()["signals"][0]["reduction_percent"] == 50.0
    assert api_client.get(f"/api/v1/templates/{version.template_id}/versions/9/comparison/").status_code == 404


def test_the_comparison_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    assert "/api/v1/deployments/{id}/comparison/" in schema["paths"]
    assert "/api/v1/templates/{template_id}/versions/{number}/comparison/" in schema["paths"]


def test_queries_do_not_grow_with_the_gateways(org, alice, applied_at, django_assert_max_num_queries):
    version = make_version(org, name="big")
    gateways = [make_gateway(org, f"big-{index}") for index in range(30)]
    for gateway in gateways:
        traffic(gateway, applied_at, (100, 100), (100, 10))
    deployment = deploy(org, version, gateways, applied_at)
    client = signed_in(alice)
    url = reverse("deployments:comparison", args=[deployment.pk])
    # The session, its user, the membership (with the org): 3 or so; then the deployment, its targets, the org's
    # prices, the sums and the minutes with data: 5. None per gateway.
    with django_assert_max_num_queries(8):
        fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "cut log records by 90 % on 30 gateways" in fragment
    with django_assert_max_num_queries(7):
        assert client.get(f"/api/v1/deployments/{deployment.pk}/comparison/").status_code == 200


def test_the_api_answers_csv_one_row_per_signal(api_client, charlie_client, measured):
    url = f"/api/v1/deployments/{measured['deployment'].pk}/comparison/"
    answer = api_client.get(url, {"format": "csv"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert (
        answer["Content-Disposition"] == f'attachment; filename="comparison-deployment-{measured["deployment"].pk}.csv"'
    )
    header, logs = answer.content.decode().splitlines()
    assert header.split(",")[:4] == ["signal", "items", "gateways", "before_in_per_hour"]
    row = dict(zip(header.split(","), logs.split(","), strict=True))
    assert (row["signal"], row["gateways"], row["reduction_percent"], row["estimated_monthly_saving"]) == (
        "logs", "2", "50.0", "",
    )  # fmt: skip
    refused = charlie_client.get(url, HTTP_ACCEPT="text/csv")
    assert refused.status_code == 404 and refused["Content-Type"] == "application/json"
