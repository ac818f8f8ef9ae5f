"""The pages on a phone: at 390 px wide the sidebar collapses behind a toggle and no page scrolls sideways.

Headless Chromium (Debian's package, through Playwright) against Daphne, with an organization filled as the
benchmarks fill one (bench/pages_data.py: health trees, effective configs, long names, audit entries). For each
operator page the document may be no wider than the viewport; wide content (tables, code, diffs) scrolls inside its
own box. The toggle is a button handled by static/flowgate/pages.js (the CSP allows no inline script).

With FLOWGATE_SCREENSHOTS=1 the test overwrites docs/screenshots/narrow-layout.png (otherwise a temporary folder).
"""

import os
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from core_app.roles import Role
from core_app.services import create_organization, set_membership
from gateways_app.services import create_registration_token
from tests.conftest import make_user
from tests.pages.conftest import browser_server_fixtures

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import pages_data  # noqa: E402

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]

PASSWORD = "s3cret-pass-123"  # tests.conftest.make_user's
NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1360, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# What sticks out of the viewport (named in a failure; the assertion itself is on scrollWidth).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width && box.right > width + 0.5 && !element.parentElement.closest("[data-overflowing]")) {
      element.setAttribute("data-overflowing", "");
      out.push(`${element.tagName.toLowerCase()}.${element.className} right=${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: width, out: out.slice(0, 8)};
}"""


fast_password_hashing, redis_prefix, server = browser_server_fixtures("narrow")


@pytest.fixture
def fleet(db):
    acme = create_organization("acme", "Acme")
    alice = make_user("alice")
    set_membership(acme, alice, Role.OWNER)
    made = pages_data.seed(acme, alice, gateways=40, templates=3)
    create_registration_token(acme, name="rack-7-with-a-rather-long-registration-token-name", created_by=alice)
    return made


def operator_pages(fleet):
    """Every operator page a signed-in user reaches from the sidebar, and the pages of one of each object."""
    template, gateway, deployment = fleet["templates"][0], fleet["gateways"][0], fleet["deployments"][0]
    return [
        reverse("dashboard:index"),
        reverse("gateways:list"),
        reverse("gateways:detail", args=[gateway.pk]),
        reverse("templates:list"),
        reverse("templates:detail", args=[template.pk]),
        reverse("templates:version", args=[template.pk, 2]),
        reverse("templates:diff", args=[template.pk]) + "?from=1&to=3",
        reverse("templates:edit", args=[template.pk]),
        reverse("templates:create"),
        reverse("deployments:list"),
        reverse("deployments:detail", args=[deployment.pk]),
        reverse("deployments:create"),
        reverse("gateways:tokens"),
        reverse("gateways:token-create"),
        reverse("core:audit-log"),
        reverse("core:settings"),
    ]


@pytest.fixture
def shots(tmp_path):
    folder = SCREENSHOTS if os.environ.get("FLOWGATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(browser, server, viewport):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(20_000)
    page.goto(server.url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    return page


def test_no_operator_page_scrolls_sideways_at_390_px_and_the_sidebar_is_behind_a_toggle(browser, server, fleet, shots):
    page = sign_in(browser, server, NARROW)
    wide = {}
    for path in operator_pages(fleet):
        response = page.goto(server.url + path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
        measured = page.evaluate(OVERFLOW)
        if measured["scrollWidth"] > measured["width"]:
            wide[path] = measured
        assert not page.locator("nav.sidebar").is_visible(), path
        assert page.locator("[data-nav-toggle]").is_visible(), path
    assert not wide, wide

    page.goto(server.url + reverse("gateways:list"))
    toggle = page.locator("[data-nav-toggle]")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert page.locator("nav.sidebar").is_visible() and toggle.get_attribute("aria-expanded") == "true"
    assert page.evaluate(OVERFLOW)["scrollWidth"] <= NARROW["width"]
    page.screenshot(path=str(shots / "narrow-layout.png"))
    page.locator("nav.sidebar a", has_text="Templates").click()
    page.wait_for_url(server.url + reverse("templates:list"))
    assert not page.locator("nav.sidebar").is_visible()  # a new page starts with the menu folded
    toggle.click()
    toggle.click()
    assert not page.locator("nav.sidebar").is_visible() and toggle.get_attribute("aria-expanded") == "false"
    page.close()


def test_a_wide_window_keeps_the_sidebar_and_no_toggle(browser, server, fleet):
    page = sign_in(browser, server, WIDE)
    assert page.locator("nav.sidebar").is_visible()
    assert not page.locator("[data-nav-toggle]").is_visible()
    page.close()
