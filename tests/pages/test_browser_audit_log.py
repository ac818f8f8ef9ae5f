"""The audit log in headless Chromium at 1,440 px (issue 13, point 8): every column visible, nothing scrolls.

The entries are those FlowGate writes (a deployment to 60 gateways, a registration token, a settings change,
a gateway enrolling from an IPv6 address): long lists, ids and addresses that a table must wrap, not push
out of sight. With FLOWGATE_SCREENSHOTS=1 the screenshot goes to docs/screenshots/audit-log.png.
"""

import os
from pathlib import Path

import pytest

from core_app import audit
from core_app.models import OrgSettings
from core_app.roles import Role
from core_app.services import create_organization, set_membership
from deployments_app.services import create_deployment
from gateways_app.models import Gateway, GatewayStatus, Tag
from gateways_app.services import create_registration_token
from templates_app.services import create_template
from tests.conftest import make_user
from tests.pages.conftest import browser_server_fixtures
from tests.pages.test_browser import PASSWORD, VALID

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(180),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


fast_password_hashing, redis_prefix, server = browser_server_fixtures("audit")


@pytest.fixture
def audited(db):
    """acme's audit log with the entries a busy day leaves."""
    acme = create_organization("acme", "Acme")
    alice = make_user("alice", is_staff=True)
    set_membership(acme, alice, Role.OWNER)
    tag = Tag.objects.create(organization=acme, key="region", value="eu-west-1")
    for index in range(60):
        gateway = Gateway.objects.create(
            organization=acme, name=f"edge-collector-eu-west-1a-{index:04d}", status=GatewayStatus.ONLINE
        )
        gateway.tags.add(tag)
    template = create_template(acme, name="edge-traces-with-tail-sampling", author=alice, config_yaml=VALID)
    create_deployment(acme, template_version=template.versions.get(), selector_tags=[tag], user=alice)
    create_registration_token(acme, name="rack-7", created_by=alice, max_uses=20, tags=["region=eu-west-1"])
    settings_row = OrgSettings.objects.get(organization=acme)
    changes = {
        "opamp_token_lifetime_days": {"from": 365, "to": 90},
        "default_strategy": {"from": "rolling", "to": "canary"},
        "extra_allowed_components": {"from": [], "to": ["kafka", "solace", "googlecloudpubsub"]},
    }
    audit.record(acme, "settings.updated", settings_row, user=alice, changes=changes, ip="2001:db8:85a3::8a2e:370:7334")
    return acme


def test_every_column_of_the_audit_log_is_visible_at_1440_px(browser, server, audited, tmp_path):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(15_000)
    page.goto(server.url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    page.goto(server.url + "/audit/")
    page.locator("table.list tbody tr").first.wait_for()

    # Nothing scrolls sideways: neither the page nor the table's own scroll box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("node => node.scrollWidth - node.clientWidth") <= 0
    # The last column ("From") lies wholly inside the table's box and the window, its addresses shown whole.
    box = wrap.bounding_box()
    last = page.locator("table.list thead th").last
    assert last.inner_text().strip().lower() == "from"
    cell = last.bounding_box()
    assert cell["x"] >= box["x"] and cell["x"] + cell["width"] <= box["x"] + box["width"] + 0.5
    assert cell["x"] + cell["width"] <= 1440
    address = page.locator("td", has_text="2001:db8:85a3::8a2e:370:7334")
    assert address.count() == 1 and address.bounding_box()["x"] + address.bounding_box()["width"] <= 1440

    # Changes read as fields with their values, not as Python dict text.
    changes = page.locator("table.list tbody").inner_text()
    assert "{'" not in changes and "': " not in changes
    assert page.locator("ul.changes li", has_text="default_strategy").inner_text().split() == [
        "default_strategy",
        "rolling",
        "→",
        "canary",
    ]

    folder = SCREENSHOTS if os.environ.get("FLOWGATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "audit-log.png"), full_page=True)
    page.close()
