"""The pages in a real browser: headless Chromium (Debian's package) driven by Playwright, against Daphne.

A Celery worker runs the rollout engine's ticks and simulated OpAMP agents (tests/deployments_app/agents.py)
apply what they are sent, so a canary deployment created in the page reaches "succeeded" while the page
updates itself. Needs PostgreSQL, Redis and /usr/bin/chromium: skipped locally without them, failed in CI.

With FLOWGATE_SCREENSHOTS=1 the tests overwrite docs/screenshots/*.png (shown in the README); otherwise
the screenshots go to a temporary folder, so a CI run never changes the working tree.
"""

import os
import re
import sys
from pathlib import Path

import pytest

from core_app.roles import Role
from core_app.services import create_organization, set_membership
from deployments_app.models import Deployment
from gateways_app.models import Gateway, GatewayStatus, RegistrationToken, Tag
from gateways_app.services import create_registration_token, issue_opamp_token
from templates_app.models import ConfigTemplate
from templates_app.services import create_template
from tests import live
from tests.conftest import make_user
from tests.deployments_app.agents import Fleet
from tests.live import CeleryWorker, Daphne, free_port, redis_url
from tests.pages.conftest import need_chromium

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import pages_data  # noqa: E402

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]

PASSWORD = "s3cret-pass-123"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VALID = """receivers:
  otlp:
    protocols:
      grpc: {}
processors:
  batch: {}
exporters:
  debug: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
"""
# Line 5 opens a flow mapping that never closes: the YAML error is reported where the parser gives up.
INVALID = VALID.replace("  batch: {}", "  batch: {timeout: 5s")


@pytest.fixture(autouse=True)
def fast_password_hashing():
    """Passwords hashed as in production: the server processes check them with the default hashers."""


@pytest.fixture(scope="module")
def redis_prefix():
    with live.redis_key_prefix("pages") as prefix:
        yield prefix


class Beat:
    """celery beat (as in production): reconcile_deployments every second restarts any lost tick chain."""

    def __init__(self, schedule_file):
        env = live.server_env(
            CELERY_BROKER_URL=redis_url(), CELERY_TASK_ALWAYS_EAGER="false", FLOWGATE_RECONCILE_SECONDS=1
        )
        command = ["celery", "-A", "flowgate_site", "beat", "-s", str(schedule_file), "--loglevel", "INFO"]
        self.process, self.output = live.start(command, env)
        self.output.wait_for("beat: Starting", self.process)

    def stop(self):
        return live.stop_process(self.process, self.output)


@pytest.fixture(scope="module")
def server(django_db_setup, redis_prefix, tmp_path_factory):
    need_chromium()
    live.test_database_url()  # skips (or fails in CI) without PostgreSQL before starting anything
    daphne = Daphne([free_port()], FLOWGATE_OPAMP_PRESENCE_SECONDS=1, FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS=1)
    worker = CeleryWorker(f"{redis_prefix}-tasks", FLOWGATE_ROLLOUT_TICK_SECONDS=0.3)
    beat = Beat(tmp_path_factory.mktemp("beat") / "schedule")
    daphne.worker = worker
    yield daphne
    beat.stop()
    worker.stop()
    daphne.stop()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: docs/screenshots with FLOWGATE_SCREENSHOTS=1, else a temporary folder."""
    folder = SCREENSHOTS if os.environ.get("FLOWGATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def people(db):
    """acme with alice (owner) and victor (viewer); globex with charlie (owner) and one template."""
    acme, globex = create_organization("acme", "Acme"), create_organization("globex", "Globex")
    alice, victor, charlie = make_user("alice"), make_user("victor"), make_user("charlie")
    set_membership(acme, alice, Role.OWNER)
    set_membership(acme, victor, Role.VIEWER)
    set_membership(globex, charlie, Role.OWNER)
    secret = create_template(globex, name="globex-secret", author=charlie, config_yaml=VALID)
    return {"acme": acme, "globex": globex, "alice": alice, "victor": victor, "secret": secret}


def sign_in(browser, server, username):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(server.url + "/")
    assert page.url.startswith(server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    return page


def type_config(page, text):
    editor = page.locator("#id_config_yaml")
    editor.fill("")
    editor.press_sequentially(text[:40])  # real keystrokes: the editor validates as one types...
    editor.fill(text)  # ...and the rest at once (fill fires the same input event)


def test_an_operator_writes_a_template_sees_errors_at_their_line_and_compares_versions(browser, server, people, shots):
    page = sign_in(browser, server, "alice")
    page.click("text=Templates")
    page.click("text=New template")
    page.fill("#id_name", "edge-traces")
    page.select_option("#id_type", "traces")
    type_config(page, INVALID)
    error_line = page.locator(".gutter .error-line")
    error_line.wait_for()
    line = int(error_line.inner_text())
    assert 5 <= line <= 7  # at the unclosed mapping or where the parser noticed it
    assert page.locator("[data-editor-problems] li.error").first.inner_text().startswith(f"line {line}")
    assert "error" in page.locator("[data-editor-state]").inner_text()
    page.screenshot(path=str(shots / "template-editor.png"), full_page=True)

    type_config(page, VALID)
    page.locator("[data-editor-state]", has_text="Valid").wait_for()
    assert page.locator(".gutter .error-line").count() == 0
    page.fill("#id_change_summary", "First traces pipeline")
    page.click("text=Create template")
    page.wait_for_url(re.compile(r"/templates/[0-9a-f-]+/$"))
    assert page.locator("#pipelines svg.pipeline .node").count() == 3

    page.click("text=Edit (new version)")
    type_config(page, VALID.replace("  batch: {}", "  batch:\n    timeout: 5s"))
    page.locator("[data-editor-state]", has_text="Valid").wait_for()
    page.fill("#id_change_summary", "Batch timeout")
    page.click("text=Save version")
    page.wait_for_url(re.compile(r"/versions/2/$"))
    page.click("text=Diff with v1")
    assert page.locator("#diff td.add", has_text="timeout: 5s").count() == 1
    assert page.locator("#diff td.del", has_text="batch: {}").count() == 1
    assert ConfigTemplate.objects.get(name="edge-traces").versions.count() == 2


@pytest.fixture
def sim_fleet(server, people):
    """Three gateways tagged fleet=sim, each with a simulated agent connected over WebSocket."""
    org = people["acme"]
    tag = Tag.objects.create(organization=org, key="fleet", value="sim")
    tokens = {}
    for index in range(3):
        gateway = Gateway.objects.create(organization=org, name=f"sim-{index}", hostname=f"sim-{index}.example.com")
        gateway.tags.add(tag)
        tokens[gateway.name] = issue_opamp_token(gateway)[1]
    fleet = Fleet(f"{server.ws_url}/v1/opamp", tokens).start()
    yield fleet
    fleet.stop()


def wait_online(names, seconds=30):
    import time

    deadline = time.monotonic() + seconds
    while Gateway.objects.filter(name__in=names, status=GatewayStatus.ONLINE).count() < len(names):
        assert time.monotonic() < deadline, "the simulated agents did not come online"
        time.sleep(0.2)


def test_a_canary_deployment_reaches_succeeded_while_the_page_watches(browser, server, people, sim_fleet, shots):
    alice = people["alice"]
    pages_data.seed(people["acme"], alice, gateways=60, templates=8)  # a fleet around the simulated one
    template = create_template(people["acme"], name="sim-traces", author=alice, config_yaml=VALID)
    wait_online(["sim-0", "sim-1", "sim-2"])
    page = sign_in(browser, server, "alice")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

    page.goto(server.url + f"/templates/{template.pk}/")
    page.click("text=Deploy this version")
    page.select_option("#id_selector_tags", label="fleet=sim")
    page.locator("[data-matched-count]", has_text="3").wait_for()  # the live count of matched gateways
    assert page.locator("#matched-gateways li").all_inner_texts() == ["sim-0", "sim-1", "sim-2"]
    page.select_option("#id_strategy", "canary")
    page.fill("#id_canary_count", "1")
    page.fill("#id_batch_size", "1")
    page.fill("#id_health_window_seconds", "1")
    page.click("text=Start deployment")
    page.wait_for_url(re.compile(r"/deployments/[0-9a-f-]+/$"))
    page.evaluate("window.flowgateNoReload = true")

    try:
        page.locator("#deployment-status", has_text="Succeeded").wait_for(timeout=90_000)
    except Exception:
        deployment = Deployment.objects.order_by("-created_at").first()
        events = list(deployment.events.values_list("message", flat=True))
        raise AssertionError(f"{deployment.status}: {events}\n{server.worker.output.text()[-3000:]}") from None
    assert page.evaluate("window.flowgateNoReload") is True  # htmx swapped the partial; the page never reloaded
    assert page.locator("#targets .badge.applied").count() == 3
    assert page.locator("#batches .batch").count() == 3
    page.screenshot(path=str(shots / "deployment-progress.png"), full_page=True)

    page.click("#targets a >> text=sim-0")
    page.locator("#capabilities").wait_for()
    assert "AcceptsRemoteConfig" in page.locator("#capabilities li:not(.off)").all_inner_texts()
    # The screenshot shows a gateway with a supervisor's full report (health tree, components, drift).
    reported = Gateway.objects.filter(remote_config_status="failed", name__startswith="gw-").order_by("name").first()
    page.goto(server.url + f"/gateways/{reported.pk}/")
    assert page.locator("#health .tree").count() > 0
    page.screenshot(path=str(shots / "gateway-detail.png"), full_page=True)


def test_a_registration_token_is_shown_once_and_can_be_revoked(browser, server, people):
    page = sign_in(browser, server, "alice")
    page.click("text=Registration tokens")
    page.click("text=New registration token")
    page.fill("#id_name", "rack-7")
    page.fill("#id_max_uses", "3")
    page.click("text=Create token")
    raw = page.locator("#registration-token").inner_text().strip()
    command = page.locator("#enroll-command").inner_text().strip()
    assert command == (
        f"~/flowgate-gateway/bin/flowgate-gateway --portal-url {server.url} --registration-token {raw} "
        "--state-dir ~/flowgate-gateway/state"
    )

    page.click("text=Back to registration tokens")
    assert raw not in page.content()
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-token='rack-7'] button", has_text="Revoke").click()
    page.locator("tr[data-token='rack-7'] .badge", has_text="revoked").wait_for()
    assert RegistrationToken.objects.get(name="rack-7").revoked_at is not None


def test_a_viewer_reads_but_cannot_edit(browser, server, people):
    create_registration_token(people["acme"], name="view-me", created_by=people["alice"])
    page = sign_in(browser, server, "victor")
    assert page.locator(".badge.role").inner_text() == "Viewer"
    page.click("text=Templates")
    assert page.locator("text=New template").count() == 0
    page.goto(server.url + "/templates/new/")
    assert page.locator("#template-form").count() == 1  # the form is readable...
    page.fill("#id_name", "sneaky")
    page.click("text=Create template")
    assert "403" in page.locator(".error-page .code").inner_text()  # ...but the write is refused
    assert not ConfigTemplate.objects.filter(name="sneaky").exists()


def test_a_user_of_one_org_cannot_open_another_orgs_objects(browser, server, people):
    page = sign_in(browser, server, "alice")
    response = page.goto(server.url + f"/templates/{people['secret'].pk}/")
    assert response.status == 404
    assert "globex-secret" not in page.content()
