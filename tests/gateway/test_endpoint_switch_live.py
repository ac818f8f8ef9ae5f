"""OpAMPConnectionSettings.destination_endpoint with real processes: Daphne on two ports (PostgreSQL, Redis),
the real supervisor `python -m gateway` managing the real otelcol-contrib.

The gateway enrolls and connects on the first port; the portal's FLOWGATE_OPAMP_PUBLIC_URL names the
second one. The supervisor switches to it, keeps it in identity.json and reports APPLIED; a restart
comes back on it. With the setting pointing where nothing listens, it stays on its endpoint and
reports FAILED with the reason. Without the setting (tests/gateway/test_token_rotation_live.py) the
endpoint offered is the one it connected to, and it never reconnects for it.

Without PostgreSQL and REDIS_URL the test skips locally and fails when CI=true (tests/live.py).
"""

import json
import time

import pytest

from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token
from tests.gateway.conftest import telemetry_base
from tests.gateway.live import GatewayProcess, wait_until
from tests.live import Daphne, free_port, stop_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]


def identity(state_dir):
    path = state_dir / "identity.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.parametrize("transport", ["websocket", "http"])
@pytest.mark.parametrize("reachable", [True, False], ids=["switches", "falls-back"])
def test_the_gateway_follows_the_offered_endpoint_or_stays(
    redis_prefix, org, alice, tmp_path, collector_binary, transport, reachable
):
    first, second = free_port(), free_port()
    public = f"ws://127.0.0.1:{second}/v1/opamp"
    daphne = Daphne([first, second] if reachable else [first], FLOWGATE_OPAMP_PUBLIC_URL=public)
    _, registration = create_registration_token(org, name="endpoint", created_by=alice)
    state_dir, base = tmp_path / "state", tmp_path / "base.yaml"
    base.write_text(telemetry_base(free_port()))
    args = [
        "--portal-url", daphne.url, "--state-dir", str(state_dir), "--collector", collector_binary,
        "--base-config", str(base), "--name", "ep-gw", "--transport", transport,
    ]  # fmt: skip
    gateway = GatewayProcess(*args, "--registration-token", registration)
    restarted = None
    try:
        gateways = Gateway.objects.filter(name="ep-gw")
        if reachable:
            wait_until(lambda: identity(state_dir).get("opamp_ws_url") == public, "the new endpoint in identity.json")
            saved = identity(state_dir)
            assert saved["opamp_http_url"] == f"http://127.0.0.1:{second}/v1/opamp"
            assert saved["opamp_url_candidate"] == ""
            wait_until(lambda: gateways.filter(connection_settings_status="applied").exists(), "APPLIED")
            # It had enrolled and connected on the first port (the switch takes a few milliseconds).
            assert (
                f"(now {'http' if transport == 'http' else 'ws'}://127.0.0.1:{first}/v1/opamp)" in gateway.output.text()
            )
            assert "connected to the new OpAMP endpoint" in gateway.output.text()
        else:
            row = wait_until(lambda: gateways.filter(connection_settings_status="failed").first(), "FAILED")
            assert "could not connect to the offered endpoint" in row.connection_settings_error
            assert identity(state_dir)["opamp_ws_url"] == f"ws://127.0.0.1:{first}/v1/opamp"
            assert identity(state_dir)["opamp_url_candidate"] == ""
        # Connected all along (or again at once), on whichever endpoint it keeps.
        wait_until(lambda: gateways.filter(status=GatewayStatus.ONLINE).exists(), "the gateway online")
        assert gateway.terminate() == 0, gateway.output.text()

        # A restart comes back on the endpoint it kept, and is not offered a switch again.
        restarted = GatewayProcess(*args)
        wait_until(lambda: gateways.filter(status=GatewayStatus.ONLINE).exists(), "the restarted gateway online")
        # Its first replies (which carry the offer on a new WebSocket) come and go without a switch.
        time.sleep(2)
        if reachable:
            assert "offered the OpAMP endpoint" not in restarted.output.text()
        assert restarted.terminate() == 0, restarted.output.text()
    finally:
        for process in (gateway, restarted):
            if process is None:
                continue
            if process.process.poll() is None:
                process.process.kill()
            print("gateway output:", stop_process(process.process, process.output)[-6000:])
        print("portal output:", daphne.stop()[-3000:])
