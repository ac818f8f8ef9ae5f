"""A template version's before-vs-after comparison in headless Chromium (issue 14, point 4).

The version page loads the comparison with htmx from deployments_app's route and draws it as a server-rendered
SVG, under the CSP (no inline script or style element). The throughput rows are built in the shape the telemetry
endpoint writes them (tests/telemetry_app/throughput_rows.py): 12 gateways whose filter halved their log records and
cut their spans by a fifth. With FLOWGATE_SCREENSHOTS=1 the screenshot goes to
docs/screenshots/version-comparison.png.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from core_app.models import OrgSettings
from core_app.roles import Role
from core_app.services import create_organization, set_membership
from deployments_app.models import Deployment, DeploymentStatus, DeploymentTarget, TargetStatus
from gateways_app.models import Gateway, GatewayStatus, RemoteConfigStatus
from templates_app.services import create_template, create_version
from tests.conftest import make_user
from tests.pages.conftest import browser_server_fixtures, signed_in_page
from tests.pages.test_browser import VALID
from tests.telemetry_app.throughput_rows import rows

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(180),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FILTERED = VALID.replace("  batch: {}\n", "  batch: {}\n  filter/debug-logs: {}\n").replace(
    "processors: [batch]", "processors: [batch, filter/debug-logs]"
)


fast_password_hashing, redis_prefix, server = browser_server_fixtures("comparison")


@pytest.fixture
def compared(db):
    """acme's edge-logs v2, deployed 3 hours ago to 12 gateways that report their throughput, and 2 that do not."""
    acme = create_organization("acme", "Acme")
    alice = make_user("alice", is_staff=True)
    set_membership(acme, alice, Role.OWNER)
    OrgSettings.objects.filter(organization=acme).update(
        price_per_million_log_records=Decimal("0.50"), price_per_million_spans=Decimal("1.20")
    )
    template = create_template(acme, name="edge-logs", author=alice, config_yaml=VALID)
    version = create_version(template, config_yaml=FILTERED, change_summary="Drop debug logs", author=alice)
    deployment = Deployment.objects.create(
        organization=acme, template_version=version, status=DeploymentStatus.SUCCEEDED
    )
    applied = timezone.now().replace(second=20, microsecond=0) - timedelta(hours=3)
    for index in range(14):
        gateway = Gateway.objects.create(
            organization=acme,
            name=f"edge-{index:02d}",
            status=GatewayStatus.ONLINE,
            desired_config_hash=version.sha256,
            remote_config_hash=version.sha256,
            remote_config_status=RemoteConfigStatus.APPLIED,
        )
        DeploymentTarget.objects.create(
            deployment=deployment,
            gateway=gateway,
            status=TargetStatus.APPLIED,
            sent_at=applied - timedelta(seconds=8),
            applied_at=applied,
        )
        if index >= 12:
            continue  # never reported: named as not counted
        before, after = applied.replace(second=0) - timedelta(hours=1), applied.replace(second=0) + timedelta(minutes=2)
        logs = 400_000 + index * 25_000
        rows(gateway, before, accepted=logs, sent=logs, signal="logs")
        rows(gateway, after, accepted=logs, sent=logs // 2, signal="logs")
        rows(gateway, before, accepted=90_000, sent=90_000, signal="traces")
        rows(gateway, after, accepted=90_000, sent=72_000, signal="traces")
    return version


def test_the_version_page_shows_before_vs_after_with_the_method(browser, server, compared, tmp_path):
    page, violations = signed_in_page(browser, server, "alice")
    page.goto(f"{server.url}/templates/{compared.template_id}/versions/{compared.number}/")
    page.locator("#comparison svg.chart").wait_for()  # loaded by htmx after the page

    text = page.locator("#comparison").inner_text()
    assert "v2 cut log records by 50 % on 12 gateways, compared over 1 h before and after." in text
    assert "v2 cut spans by 20 % on 12 gateways, compared over 1 h before and after." in text
    assert "Not counted (no items in before or after): edge-12, edge-13." in text
    assert "Method:" in text and "estimate" in text
    assert page.locator("#comparison svg.chart rect.bar-before").count() == 2
    assert page.locator("#comparison-table tbody tr").count() == 2
    assert violations == []

    folder = SCREENSHOTS if os.environ.get("FLOWGATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.locator("#comparison").scroll_into_view_if_needed()
    page.screenshot(path=str(folder / "version-comparison.png"), full_page=True)
    page.close()
