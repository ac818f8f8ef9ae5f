"""Crafted component ids in headless Chromium: every page that shows validation messages shows them as text.

A saved version whose pipeline names components like `otlp/"><img src=x onerror=…>` is opened by the next
viewer; validation runs as the editor loads. Each payload, if it ever became markup, would set
`window.xssRan`, add an element with `data-xss`, or trip the Content-Security-Policy (recorded through
`securitypolicyviolation`). The pages must show the messages literally, with the expected number of
elements, and record no violation at all: the escaping holds by itself, the policy is only the backstop.

The same browser checks that the pages the policy could break still work under it: Swagger UI at
/api/v1/docs/ and the admin's JavaScript (the filter_horizontal widget, the related-object popup, the change
list's actions; FlowGate's admin forms have no date widget). Only Daphne is started here (no Celery):
nothing on these pages waits for a task.
"""

import pytest

from core_app.roles import Role
from core_app.services import create_organization, set_membership
from gateways_app.models import Tag
from templates_app.services import create_template, create_version
from tests.conftest import make_user
from tests.pages.conftest import browser_server_fixtures, make_fleet
from tests.pages.test_browser import PASSWORD, VALID

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(180),
]

PAYLOADS = [
    'otlp/"><img src=x onerror=window.xssRan=1>',  # closes a title="…" and adds an element with a handler
    "otlp/</script><script>window.xssRan=2</script>",  # ends a script block the text might sit in
    'otlp/" data-xss="1" onmouseover="window.xssRan=3//',  # breaks out of a quoted attribute into new ones
]
KEY = 'debug/"><img src=x onerror=window.xssRan=4>'
# The payloads as pipeline references (errors: not defined) and one as a defined key (an invalid id).
CRAFTED = (
    "receivers:\n  otlp:\n    protocols:\n      grpc: {}\n"
    f"exporters:\n  debug: {{}}\n  {KEY}: {{}}\n"
    "service:\n  pipelines:\n    traces:\n      receivers:\n"
    + "".join(f"        - {payload}\n" for payload in PAYLOADS)
    + "      exporters: [debug]\n"
)

# Runs before any page script (DevTools, outside the page's policy): records what the policy refused.
WATCH = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI + " " + (event.sample || ""));
});
"""


fast_password_hashing, redis_prefix, server = browser_server_fixtures("escaping")


@pytest.fixture
def crafted(db):
    """acme with alice (owner, staff) and a template whose version 2 carries the crafted component ids."""
    acme = create_organization("acme", "Acme")
    alice = make_user("alice", is_staff=True, is_superuser=True)
    set_membership(acme, alice, Role.OWNER)
    template = create_template(acme, name="edge-traces", author=alice, config_yaml=VALID)
    version = create_version(template, config_yaml=CRAFTED, change_summary="crafted ids", author=alice)
    errors = [message["message"] for message in version.validation_errors]
    warnings = [message["message"] for message in version.validation_warnings]
    assert [len(errors), len(warnings)] == [4, 2]  # each payload quoted in an error; otlp and KEY unused
    for payload in [KEY, *PAYLOADS]:
        assert any(f"'{payload}'" in message for message in errors)
    return {"org": acme, "alice": alice, "template": template, "version": version, "errors": errors}


def sign_in(browser, server, username="alice"):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    return page


def assert_no_script_ran(page):
    # An injected <img src=x> runs its onerror once its load has failed: wait until every image has settled.
    page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")
    assert page.evaluate("window.xssRan") is None
    assert page.locator("[data-xss]").count() == 0
    assert page.locator("main img[src=x], .content img[src=x], #content img[src=x]").count() == 0
    assert page.evaluate("window.cspViolations") == []


def assert_editor_shows_the_messages(page, errors):
    page.locator("[data-editor-state]", has_text="4 errors").wait_for()
    gutter_marks = page.locator(".gutter .error-line")
    for i in range(gutter_marks.count()):
        gutter_marks.nth(i).hover()  # as a reader does, to see the message in the tooltip
    assert_no_script_ran(page)
    assert gutter_marks.count() == 4  # one gutter mark per erroneous line, nothing more
    assert [gutter_marks.nth(i).get_attribute("title") for i in range(4)] == errors
    for i in range(4):  # a mark holds its line number and nothing else
        assert gutter_marks.nth(i).evaluate("node => node.childNodes.length") == 1
    assert page.locator(".gutter > *").count() == len(CRAFTED.splitlines()) + 1  # a number per line (and the last)
    problems = page.locator("[data-editor-problems] li")
    assert problems.count() == 6  # four errors, two warnings
    texts = problems.all_inner_texts()
    for message in errors:
        assert any(text.endswith(message) for text in texts), (message, texts)
    # The highlighted copy behind the textarea has the text verbatim (no tag of the payload became an element).
    shown = page.locator("pre.highlight").evaluate("node => node.textContent").split("\n")
    typed = page.locator("#id_config_yaml").input_value().split("\n")
    assert shown == [line or " " for line in typed] + [""]  # an empty line shows as one space, to keep its height
    assert page.locator("pre.highlight img, pre.highlight script").count() == 0


def test_the_version_editor_shows_crafted_ids_as_text(browser, server, crafted):
    page = sign_in(browser, server)
    page.goto(server.url + f"/templates/{crafted['template'].pk}/edit/")  # validation runs as the page loads
    assert_editor_shows_the_messages(page, crafted["errors"])
    assert page.title().startswith("New version of edge-traces")


def test_validate_as_you_type_shows_crafted_ids_as_text(browser, server, crafted):
    page = sign_in(browser, server)
    page.goto(server.url + "/templates/new/")
    page.locator("#id_config_yaml").fill(CRAFTED)
    assert_editor_shows_the_messages(page, crafted["errors"])


def test_the_version_page_shows_crafted_ids_as_text(browser, server, crafted):
    page = sign_in(browser, server)
    page.goto(server.url + f"/templates/{crafted['template'].pk}/versions/2/")
    items = page.locator("#validation li")
    assert items.count() == 6
    texts = items.all_inner_texts()
    for message in crafted["errors"]:
        assert any(message in text for text in texts), (message, texts)
    assert page.locator("#config-lines tr").count() == len(CRAFTED.splitlines())
    assert_no_script_ran(page)


def test_the_admin_version_page_shows_crafted_ids_as_text(browser, server, crafted):
    page = sign_in(browser, server)
    page.goto(server.url + f"/admin/templates_app/templateversion/{crafted['version'].pk}/change/")
    errors = page.locator(".field-validation_errors_list li")
    assert errors.count() == 4
    for message, text in zip(crafted["errors"], errors.all_inner_texts(), strict=True):
        assert message in text
    assert_no_script_ran(page)


def test_operator_pages_run_under_the_policy(browser, server, crafted):
    fleet = make_fleet(crafted["org"], crafted["alice"], prefix="csp")
    page = sign_in(browser, server)
    pages = [
        "/",
        "/gateways/",
        f"/gateways/{fleet['gateway'].pk}/",
        "/gateways/tokens/",
        "/gateways/tokens/new/",
        "/templates/",
        f"/templates/{fleet['template'].pk}/",
        f"/templates/{fleet['template'].pk}/diff/",
        "/deployments/",
        f"/deployments/{fleet['deployment'].pk}/",
        "/audit/",
        "/settings/",
        "/api/v1/templates/",  # DRF's browsable API, for a browser
    ]
    for path in pages:
        response = page.goto(server.url + path)
        assert response.status == 200, path
        assert page.evaluate("window.cspViolations") == [], path
    page.goto(server.url + "/deployments/new/")
    page.select_option("#id_selector_tags", label="env=prod")  # htmx asks for the live preview
    page.locator("#matched-gateways li").first.wait_for()
    assert page.locator("#matched-gateways li").count() == 3
    assert page.evaluate("window.cspViolations") == []


def test_swagger_ui_runs_under_the_policy(browser, server, crafted):
    page = sign_in(browser, server)
    page.goto(server.url + "/api/v1/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert page.evaluate("window.cspViolations") == []


def test_admin_widgets_and_popups_run_under_the_policy(browser, server, crafted):
    page = sign_in(browser, server)
    page.goto(server.url + "/admin/gateways_app/registrationtoken/add/")
    page.locator("#id_tags_from").wait_for()  # SelectFilter2 built the filter_horizontal widget
    with page.expect_popup() as popup_info:
        page.click("#add_id_tags")
    popup = popup_info.value
    popup.select_option("#id_organization", label="Acme")
    popup.fill("#id_key", "env")
    popup.fill("#id_value", "csp")
    popup.click("input[name=_save]")
    popup.wait_for_event("close")  # popup_response.js handed the new tag back to the opener
    page.locator("#id_tags_to option", has_text="env=csp").wait_for()
    assert Tag.objects.filter(organization=crafted["org"], key="env", value="csp").exists()
    assert page.evaluate("window.cspViolations") == []

    page.goto(server.url + "/admin/gateways_app/tag/")
    page.click("#action-toggle")  # actions.js: select every row, count them
    page.locator(".action-counter", has_text="1 of 1 selected").wait_for()
    assert page.evaluate("window.cspViolations") == []
