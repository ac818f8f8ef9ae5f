"""Fixtures of the page tests: signed-in browsers (Django's test Client) and a small fleet in acme."""

import os
from pathlib import Path

import pytest
from django.test import Client

from deployments_app import target_check
from deployments_app.services import create_deployment
from gateways_app.models import Gateway, GatewayStatus, Tag
from gateways_app.services import create_registration_token
from templates_app.services import create_template, create_version
from tests import live

CONFIG_V1 = """receivers:
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
CONFIG_V2 = CONFIG_V1.replace("  batch: {}\n", "  batch:\n    timeout: 5s\n")


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_browser(alice):
    return signed_in(alice)


@pytest.fixture
def bob_browser(bob):
    return signed_in(bob)


@pytest.fixture
def charlie_browser(charlie):
    return signed_in(charlie)


def make_fleet(org, user, prefix="gw", count=3):
    """A template with two versions, `count` tagged online gateways, a deployment and a registration token."""
    template = create_template(org, name=f"{prefix}-traces", author=user, config_yaml=CONFIG_V1)
    version2 = create_version(template, config_yaml=CONFIG_V2, change_summary="Batch timeout", author=user)
    tag = Tag.objects.create(organization=org, key="env", value="prod")
    gateways = []
    for index in range(count):
        gateway = Gateway.objects.create(
            organization=org,
            name=f"{prefix}-{index}",
            hostname=f"{prefix}-{index}.example.com",
            status=GatewayStatus.ONLINE,
        )
        gateway.tags.add(tag)
        gateways.append(gateway)
    deployment = create_deployment(org, template_version=version2, selector_tags=[tag], user=user)
    deployment = target_check.validate(deployment.pk)  # the validating task's work: it is rolling out
    token, _ = create_registration_token(org, name=f"{prefix}-token", created_by=user)
    return {
        "org": org,
        "template": template,
        "version": version2,
        "tag": tag,
        "gateway": gateways[0],
        "gateways": gateways,
        "deployment": deployment,
        "token": token,
    }


@pytest.fixture
def acme_fleet(org, alice):
    return make_fleet(org, alice, prefix="acme")


@pytest.fixture
def globex_fleet(other_org, charlie):
    return make_fleet(other_org, charlie, prefix="globex")


# The browser tests (test_browser*.py) drive Debian's headless Chromium through Playwright.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need_chromium():
    if not Path(CHROMIUM).exists():
        live.unavailable(f"browser tests need Debian's chromium at {CHROMIUM} (.ci/run installs it)")


def browser_server_fixtures(label):
    """The module's fixtures for browser tests against one live Daphne (no worker), as a module assigns them:

        fast_password_hashing, redis_prefix, server = browser_server_fixtures("audit")

    Passwords are hashed as in production (the server process checks them with the default hashers),
    the server's Redis keys live under a prefix of their own, and the server starts once per module.
    """

    @pytest.fixture(autouse=True)
    def fast_password_hashing():
        """Overrides tests/conftest.py's: the production hashers, which the server process uses."""

    @pytest.fixture(scope="module")
    def redis_prefix():
        with live.redis_key_prefix(label) as prefix:
            yield prefix

    @pytest.fixture(scope="module")
    def server(django_db_setup, redis_prefix):
        need_chromium()
        live.test_database_url()  # skips (or fails in CI) without PostgreSQL before starting anything
        daphne = live.Daphne([live.free_port()])
        yield daphne
        daphne.stop()

    return fast_password_hashing, redis_prefix, server


def signed_in_page(browser, server, username, password="s3cret-pass-123", width=1440):
    """A page signed in as `username` on the live `server`, and the list the Content Security Policy
    violations it reports (from the console) are appended to."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(15_000)
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    return page, violations


@pytest.fixture(scope="module")
def browser(server):
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
