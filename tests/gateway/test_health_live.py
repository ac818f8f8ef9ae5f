"""Errors are dated and resolved, with real processes: Daphne, a Celery worker, `python -m gateway` and otelcol-contrib.

A deployed config that `validate` accepts but the collector cannot start with (its metrics port is
taken) fails at start-up: the gateway page shows the collector's error with its time. The next
config runs: the page shows the same error resolved ("resolved at …, healthy since …"), never a red
error next to a healthy collector. With FLOWGATE_SCREENSHOTS=1 the page is saved as
docs/screenshots/gateway-resolved-error.png (headless Chromium), else in a temporary folder.

Without PostgreSQL, REDIS_URL or Chromium the test skips locally and fails when CI=true (tests/live.py).
"""

import os
import re
import socket
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from deployments_app.models import DeploymentTarget, TargetStatus
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token
from templates_app.models import ConfigTemplate, TemplateVersion
from tests.gateway.conftest import filelog_config, telemetry_base
from tests.gateway.live import GatewayProcess, wait_until
from tests.live import free_port, stop_process
from tests.pages.conftest import CHROMIUM, CHROMIUM_ARGS, need_chromium

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.browser,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "s3cret-pass-123"  # tests.conftest.make_user()
ISO = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


@pytest.fixture(autouse=True)
def fast_password_hashing():
    """Passwords hashed as in production: the live server checks them with the default hashers."""


def with_metrics_port(config, port):
    """`config` with the collector's own metrics served on `port` (the remote config's telemetry wins)."""
    data = yaml.safe_load(config)
    data["service"].update(yaml.safe_load(telemetry_base(port))["service"])
    return yaml.safe_dump(data, sort_keys=False)


def page_text(client, gateway):
    html = client.get(reverse("gateways:detail", args=[gateway.pk])).content.decode()
    return html, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_start_up_error_is_shown_with_its_time_then_resolved_once_healthy(
    system, org, alice, tmp_path, collector_binary
):
    need_chromium()
    _, token = create_registration_token(org, name="health", created_by=alice)
    base = tmp_path / "base.yaml"
    base.write_text(telemetry_base(free_port()))
    gateway = GatewayProcess(
        "--portal-url", system["daphne"].url, "--registration-token", token, "--state-dir", str(tmp_path / "state"),
        "--collector", collector_binary, "--base-config", str(base), "--name", "health-gw", "--apply-timeout", "15",
    )  # fmt: skip
    client = Client()
    client.force_login(alice)
    try:
        row = wait_until(
            lambda: Gateway.objects.filter(name="health-gw", status=GatewayStatus.ONLINE).first(), "enroll"
        )
        template = ConfigTemplate.objects.create(organization=org, name="logs")
        sink, log, api = system["sink"], system["log"], system["api"]

        with socket.socket() as busy:  # `validate` accepts the config; the collector cannot start with it
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            failing = with_metrics_port(filelog_config(log, sink.url), busy.getsockname()[1])
            bad = TemplateVersion.objects.create(template=template, number=1, config_yaml=failing)
            api.deploy(bad, row, auto_rollback=False)
            row = wait_until(
                lambda: Gateway.objects.filter(name="health-gw", remote_config_status="failed").first(), "FAILED"
            )
        assert "address already in use" in row.remote_config_error
        [error] = [entry for entry in row.health_errors if entry["source"] == "remote_config"]
        assert error["component"] == bad.sha256 and error["at"] and error["resolved_at"] is None
        html, text = page_text(client, row)
        assert re.search(r"Config error [^<]*address already in use.* at " + ISO, text), text
        assert re.search(r"open [^—]*address already in use.*— config \w+…?, at " + ISO, text), text

        wait_until(lambda: DeploymentTarget.objects.filter(gateway=row, status=TargetStatus.FAILED).exists(), "target")
        good = TemplateVersion.objects.create(
            template=template, number=2, config_yaml=with_metrics_port(filelog_config(log, sink.url), free_port())
        )
        api.deploy(good, row)
        row = wait_until(
            lambda: (
                Gateway.objects.filter(name="health-gw", remote_config_status="applied", remote_config_hash=good.sha256)
                .exclude(health__healthy=False)
                .first()
            ),
            "APPLIED",
        )
        [error] = [entry for entry in row.health_errors if entry["source"] == "remote_config"]
        assert error["resolved_at"] >= error["at"] and error["healthy_since"]
        assert all(entry["resolved_at"] for entry in row.health_errors)  # nothing open on a healthy gateway
        html, text = page_text(client, row)
        assert "Config error" not in text
        assert re.search(r"resolved [^—]*address already in use.*; resolved at " + ISO + ", healthy since " + ISO, text)
        assert 'style="color:var(--bad)"' not in html.split('id="health"', 1)[1].split('id="components"', 1)[0]
        screenshot(system["daphne"].url, row, tmp_path)  # as alice, signed in with her password
    finally:
        if gateway.process.poll() is None:
            gateway.process.kill()
        print("gateway output:", stop_process(gateway.process, gateway.output)[-8000:])


def screenshot(url, gateway, tmp_path):
    """The gateway page in headless Chromium, signed in through the login form as an operator does."""
    folder = SCREENSHOTS if os.environ.get("FLOWGATE_SCREENSHOTS") == "1" else tmp_path
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API keeps an event loop in this thread
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(url + "/login/")
            page.fill("#id_username", "alice")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            page.goto(url + f"/gateways/{gateway.pk}/")
            assert "healthy since" in page.locator("#error-history").inner_text()
            page.locator("#health").scroll_into_view_if_needed()
            page.screenshot(path=str(folder / "gateway-resolved-error.png"), full_page=True)
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
