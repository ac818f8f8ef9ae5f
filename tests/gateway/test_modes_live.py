"""`python -m gateway` against a live portal with the plain-HTTP transport, and in extension mode.

Same real processes as test_end_to_end.py (PostgreSQL and REDIS_URL needed: skipped locally
without them, failing when CI=true).
"""

import hashlib

import pytest

from core_app.services import get_org_settings
from gateways_app.models import Gateway, GatewayMode, GatewayStatus
from gateways_app.services import RestartRefused, create_registration_token, request_restart
from templates_app.models import ConfigTemplate, TemplateVersion
from tests.gateway.conftest import filelog_config, telemetry_base
from tests.gateway.live import GatewayProcess, wait_until
from tests.live import free_port, stop_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.timeout(180),
]


def start_gateway(system, org, alice, tmp_path, *args):
    _, token = create_registration_token(org, name="modes", created_by=alice)
    common = ["--portal-url", system["daphne"].url, "--registration-token", token]
    return GatewayProcess(*common, "--state-dir", str(tmp_path / "state"), "--name", "gw-live", *args)


def finish(gateway):
    if gateway.process.poll() is None:
        gateway.process.kill()
    print("gateway output:", stop_process(gateway.process, gateway.output)[-6000:])


def test_the_http_transport_polls_applies_a_config_and_says_goodbye(system, org, alice, tmp_path, collector_binary):
    org_settings = get_org_settings(org)
    org_settings.heartbeat_interval_seconds = 1  # the poll interval the portal offers
    org_settings.save()
    base = tmp_path / "base.yaml"
    base.write_text(telemetry_base(free_port()))
    gateway = start_gateway(
        system, org, alice, tmp_path, "--transport", "http", "--collector", collector_binary, "--base-config", str(base)
    )
    try:
        row = wait_until(lambda: Gateway.objects.filter(name="gw-live", status=GatewayStatus.ONLINE).first(), "online")
        template = ConfigTemplate.objects.create(organization=org, name="http")
        config = filelog_config(system["log"], system["sink"].url)
        version = TemplateVersion.objects.create(template=template, number=1, config_yaml=config)
        system["api"].deploy(version, row)
        row = wait_until(
            lambda: Gateway.objects.filter(name="gw-live", remote_config_status="applied").first(), "APPLIED by polling"
        )
        assert row.remote_config_hash == version.sha256 and "filelog" in row.effective_config
        assert gateway.terminate() == 0
        # The last poll carried AgentDisconnect: offline at once, not after missed polls.
        assert Gateway.objects.get(name="gw-live").status == GatewayStatus.OFFLINE
    finally:
        finish(gateway)


def test_extension_mode_only_sends_heartbeats(system, org, alice, tmp_path):
    collector_config = tmp_path / "collector.yaml"
    collector_config.write_text("receivers: {}\n")
    gateway = start_gateway(
        system, org, alice, tmp_path, "--mode", "extension", "--heartbeat-interval", "1", "--base-config",
        str(collector_config),
    )  # fmt: skip
    try:
        row = wait_until(
            lambda: Gateway.objects.filter(
                name="gw-live", status=GatewayStatus.ONLINE, last_seen__isnull=False
            ).first(),
            "a heartbeat",
        )
        assert row.mode == GatewayMode.EXTENSION
        heartbeat = row.health["component_health_map"]["heartbeat"]
        assert heartbeat["attributes"]["config_hash"] == hashlib.sha256(collector_config.read_bytes()).hexdigest()
        assert row.capabilities == 0  # nothing spoke OpAMP for it: no remote restart
        with pytest.raises(RestartRefused):
            request_restart(row, alice)
        assert gateway.terminate() == 0
    finally:
        finish(gateway)
