"""A gateway's throughput section in headless Chromium (issue 14, point 4), and its screenshot.

The gateway page renders the section server-side (gateways_app.panels, filled by telemetry_app) as SVG, under
the CSP (no inline script or style element); the range switch is plain links. The data is an hour of
reports in the real collector's shape (tests/telemetry_app/throughput_data.replay_captured), ingested by the
code /v1/metrics runs. With FLOWGATE_SCREENSHOTS=1 the screenshot goes to docs/screenshots/gateway-throughput.png.
"""

import os
from pathlib import Path

import pytest

from core_app.roles import Role
from core_app.services import create_organization, set_membership
from gateways_app.models import Gateway, GatewayStatus
from telemetry_app.charts import compact
from tests.conftest import make_user
from tests.pages.conftest import browser_server_fixtures, signed_in_page
from tests.telemetry_app.throughput_data import replay_captured

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(180),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


fast_password_hashing, redis_prefix, server = browser_server_fixtures("throughput")


@pytest.fixture
def reporting(db):
    acme = create_organization("acme", "Acme")
    alice = make_user("alice", is_staff=True)
    set_membership(acme, alice, Role.OWNER)
    gateway = Gateway.objects.create(organization=acme, name="edge-eu-1", status=GatewayStatus.ONLINE)
    return gateway, replay_captured(gateway)


def test_the_gateway_page_charts_its_throughput(browser, server, reporting, tmp_path):
    gateway, sent = reporting
    page, violations = signed_in_page(browser, server, "alice")
    page.goto(f"{server.url}/gateways/{gateway.pk}/")
    page.locator("#throughput-logs svg.chart").wait_for()

    page.click("#throughput nav.range-switch >> text=24 h")  # a plain link: the whole hour is in the day
    page.wait_for_url("**throughput=24h*")
    totals = page.locator("#throughput-logs .throughput-totals").inner_text()
    for name, label in (("received", "in"), ("sent", "out"), ("dropped", "dropped"), ("failed", "failed")):
        assert f"{label} {compact(sent[name])}" in totals, (name, totals)
    assert page.locator("#throughput-logs svg.chart path.line").count() == 4
    assert "No metrics in this range." in page.locator("#throughput").inner_text()

    page.click("#throughput nav.range-switch >> text=1 h")
    page.wait_for_url("**throughput=1h*")
    assert page.locator("#throughput-logs svg.chart rect.slot").count() == 60
    assert violations == []

    folder = SCREENSHOTS if os.environ.get("FLOWGATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.locator("#throughput").screenshot(path=str(folder / "gateway-throughput.png"))
    page.close()
