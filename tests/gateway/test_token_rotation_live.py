"""Token rotation over OpAMP with real processes (issue 13, point 6): Daphne (PostgreSQL, Redis), the
real supervisor `python -m gateway` managing the real otelcol-contrib.

Re-issuing the token through the API: the connected supervisor (over WebSocket, or polling over
plain HTTP) is offered the new token in ConnectionSettingsOffers.opamp, saves it (identity.json,
atomically), reconnects with it and reports APPLIED; the portal records the rotation and the old
token is refused from then on. The gateway never loses its connection for good, and a restart
comes back with the new token.

Without PostgreSQL and REDIS_URL the test skips locally and fails when CI=true (tests/live.py).
"""

import json
import urllib.error
import urllib.request

import pytest

from core_app.models import AuditLog, OrgSettings
from gateways_app.models import Gateway, GatewayStatus
from gateways_app.services import create_registration_token
from opamp_core.proto import opamp_pb2
from tests.gateway.conftest import telemetry_base
from tests.gateway.live import GatewayProcess, wait_until
from tests.live import free_port, stop_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.timeout(240),
]


def identity(state_dir):
    return json.loads((state_dir / "identity.json").read_text())


def opamp_status(portal_url, token, uid):
    """The HTTP status of one plain-HTTP OpAMP request made with `token`."""
    message = opamp_pb2.AgentToServer(instance_uid=uid, sequence_num=1)
    request = urllib.request.Request(  # noqa: S310  (the local test server)
        portal_url + "/v1/opamp",
        data=message.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("transport", ["websocket", "http"])
def test_a_reissued_token_reaches_the_connected_gateway_over_opamp(
    system, org, alice, tmp_path, collector_binary, transport
):
    # Plain-HTTP agents hear of the offer at their next poll: poll every 5 s, not 30.
    OrgSettings.objects.update_or_create(organization=org, defaults={"heartbeat_interval_seconds": 5})
    _, registration = create_registration_token(org, name="rotation", created_by=alice)
    state_dir, base = tmp_path / "state", tmp_path / "base.yaml"
    base.write_text(telemetry_base(free_port()))
    args = [
        "--portal-url", system["daphne"].url, "--state-dir", str(state_dir), "--collector", collector_binary,
        "--base-config", str(base), "--name", "rot-gw", "--transport", transport,
    ]  # fmt: skip
    gateway = GatewayProcess(*args, "--registration-token", registration)
    restarted = None
    try:
        online = Gateway.objects.filter(name="rot-gw", status=GatewayStatus.ONLINE)
        row = wait_until(lambda: online.exclude(capabilities=0).first(), "the gateway online")
        # The supervisor announces AcceptsOpAMPConnectionSettings.
        assert row.capabilities & opamp_pb2.AgentCapabilities_AcceptsOpAMPConnectionSettings
        old = identity(state_dir)["opamp_token"]

        status, answer = system["api"].post(f"/api/v1/gateways/{row.pk}/reissue-token/")
        assert status == 200 and answer["rotated"] is True, answer
        new = answer["opamp_token"]
        assert new != old

        # The supervisor saved it as its token (the candidate promoted), having connected with it.
        wait_until(lambda: identity(state_dir)["opamp_token"] == new, "the new token in identity.json")
        assert identity(state_dir)["opamp_token_candidate"] == ""
        # The portal recorded the rotation as complete: offer withdrawn, old token revoked, audited.
        row = wait_until(
            lambda: (
                Gateway.objects.filter(pk=row.pk, offered_opamp_token__isnull=True)
                .exclude(opamp_token_rotated_at=None)
                .first()
            ),
            "the rotation recorded",
        )
        entries = AuditLog.objects.filter(object_id=str(row.pk), action__startswith="gateway.token_rotat")
        times = dict(entries.values_list("action", "created_at"))
        took = times["gateway.token_rotated"] - times["gateway.token_rotation_started"]
        print(f"re-issue to rotation complete: {took.total_seconds():.3f} s")
        # The agent reported the offer's result (ConnectionSettingsStatus).
        wait_until(lambda: Gateway.objects.get(pk=row.pk).connection_settings_status == "applied", "APPLIED")
        # The old token no longer works; the new one does.
        uid = row.instance_uid.bytes
        assert opamp_status(system["daphne"].url, old, uid) == 401
        # The gateway kept (or took back at once) its connection: online, on the new token.
        wait_until(lambda: online.filter(pk=row.pk).exists(), "the gateway online after the rotation")
        assert "OpAMP token refused" not in gateway.output.text()
        assert gateway.terminate() == 0, gateway.output.text()
        assert Gateway.objects.get(pk=row.pk).status == GatewayStatus.OFFLINE  # it said goodbye

        # A restart comes back with the saved token, without any registration token.
        restarted = GatewayProcess(*args)
        wait_until(lambda: online.filter(pk=row.pk).exists(), "the restarted gateway online")
        assert "OpAMP token refused" not in restarted.output.text()
        assert restarted.terminate() == 0, restarted.output.text()
    finally:
        for process in (gateway, restarted):
            if process is None:
                continue
            if process.process.poll() is None:
                process.process.kill()
            print("gateway output:", stop_process(process.process, process.output)[-6000:])
