"""The deploy form in headless Chromium refusing a version for a named gateway (issue 13, point 1).

The live check (htmx) lists what each matched gateway lacks as soon as the version and the gateways
are chosen, and submitting anyway is refused with the same list. With FLOWGATE_SCREENSHOTS=1 the
screenshot goes to docs/screenshots/deploy-refused.png.
"""

import os
from pathlib import Path

import pytest

from core_app.roles import Role
from core_app.services import create_organization, set_membership
from deployments_app.models import Deployment
from gateways_app.models import Gateway, GatewayStatus
from templates_app.services import create_template
from tests.conftest import make_user
from tests.pages.conftest import browser_server_fixtures
from tests.pages.test_browser import PASSWORD, VALID
from tests.templates_app.validation_helpers import reported

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(180),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


fast_password_hashing, redis_prefix, server = browser_server_fixtures("deploy-check")


@pytest.fixture
def fleet(db):
    """acme: a traces template (otlp in, batch, debug out) and three gateways, one built without debug."""
    acme = create_organization("acme", "Acme")
    alice = make_user("alice", is_staff=True)
    set_membership(acme, alice, Role.OWNER)
    template = create_template(acme, name="edge-traces", author=alice, config_yaml=VALID)
    full = reported(receivers=["otlp"], processors=["batch"], exporters=["debug", "otlp"])
    small = reported(receivers=["otlp"], processors=["batch"], exporters=["otlphttp"])
    gateways = [
        Gateway.objects.create(organization=acme, name=name, status=GatewayStatus.ONLINE, available_components=c)
        for name, c in (("edge-eu-1", full), ("edge-eu-2", full), ("edge-us-1", small))
    ]
    return {"version": template.versions.get(), "gateways": gateways}


def test_the_deploy_form_refuses_a_version_for_a_gateway_that_lacks_its_components(browser, server, fleet, tmp_path):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.set_default_timeout(15_000)
    page.goto(server.url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    page.goto(server.url + "/deployments/new/")

    page.select_option("#id_template_version", str(fleet["version"].pk))
    page.select_option("#id_selector_gateways", [str(gateway.pk) for gateway in fleet["gateways"]])
    # The live check answers while the form is filled in: edge-us-1 lacks the debug exporter.
    check = page.locator('#target-check[data-ok="no"]')
    check.wait_for()
    assert check.locator("li").all_inner_texts() == ["edge-us-1 lacks exporter debug"]
    assert "edge-traces v1 cannot run on 1 of the 3 target gateways" in check.inner_text()

    page.click("#deployment-form button[type=submit]")
    errors = page.locator("ul.errorlist.nonfield")
    errors.wait_for()
    assert errors.locator("li").all_inner_texts() == [
        "edge-traces v1 cannot run on 1 of the 3 target gateways: it lacks components the config uses.",
        "edge-us-1 lacks exporter debug.",
    ]
    assert not Deployment.objects.exists()
    page.locator('#target-check[data-ok="no"]').wait_for()  # the check is shown again with the refused form

    folder = SCREENSHOTS if os.environ.get("FLOWGATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "deploy-refused.png"), full_page=True)
    page.close()
