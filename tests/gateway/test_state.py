"""The state directory: identity and token persisted 0600, atomic writes, reuse on restart (no re-enrollment)."""

import json
import os
import stat
import uuid

import pytest

from gateway import enroll
from gateway.config import Settings
from gateway.state import Identity, StateDir, write_private
from gateway.supervisor import Supervisor
from tests.gateway.fake_portal import FakePortal


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def portal():
    server = FakePortal()
    yield server
    server.close()


def settings_for(tmp_path, portal_url, token="reg-token"):
    return Settings(portal_url=portal_url, registration_token=token, state_dir=str(tmp_path / "state"), name="gw-a")


def test_files_are_written_0600_in_a_0700_directory(tmp_path):
    state = StateDir(tmp_path / "state")
    write_private(state.path / "secret.txt", "s3cret")
    assert mode_of(state.path) == 0o700
    assert mode_of(state.path / "secret.txt") == 0o600


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "identity.json"
    write_private(target, "old")
    write_private(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["identity.json"]


def test_a_new_instance_uid_is_a_uuid_v7():
    identity = StateDir.new_identity()
    assert uuid.UUID(identity.instance_uid).version == 7


def test_first_start_enrolls_with_the_registration_token_and_saves_the_identity(tmp_path, portal):
    settings = settings_for(tmp_path, portal.url)
    identity = enroll.enroll(settings, StateDir(settings.state_dir))
    request = portal.requests[0]
    assert request["path"] == "/api/v1/gateways/register"
    assert request["headers"]["Authorization"] == "Bearer reg-token"
    assert request["body"]["name"] == "gw-a" and request["body"]["instance_uid"] == identity.instance_uid
    saved = tmp_path / "state" / "identity.json"
    assert json.loads(saved.read_text())["opamp_token"] == "opamp-token-for-tests"
    assert mode_of(saved) == 0o600


def test_later_starts_reuse_the_identity_without_the_registration_token(tmp_path, portal):
    first = Supervisor(settings_for(tmp_path, portal.url))._identity()
    again = Supervisor(settings_for(tmp_path, portal.url, token=""))._identity()
    assert again == first
    assert len(portal.requests) == 1  # no second enrollment


def test_re_enroll_forgets_the_saved_identity(tmp_path, portal):
    first = Supervisor(settings_for(tmp_path, portal.url))._identity()
    settings = settings_for(tmp_path, portal.url)
    settings.re_enroll = True
    second = Supervisor(settings)._identity()
    assert second.instance_uid != first.instance_uid and len(portal.requests) == 2


def test_a_first_start_without_a_registration_token_says_what_to_do(tmp_path):
    with pytest.raises(enroll.EnrollmentError, match="--registration-token"):
        enroll.enroll(settings_for(tmp_path, "http://127.0.0.1:9", token=""), StateDir(tmp_path / "state"))


def test_a_refused_registration_token_is_final(tmp_path):
    portal = FakePortal([(401, {}, {"detail": "token expired"})])
    try:
        with pytest.raises(enroll.EnrollmentError, match="HTTP 401.*token expired"):
            enroll.enroll(settings_for(tmp_path, portal.url), StateDir(tmp_path / "state"), sleep=pytest.fail)
    finally:
        portal.close()
    assert not (tmp_path / "state" / "identity.json").exists()


def test_a_busy_portal_is_retried_after_its_retry_after(tmp_path):
    portal = FakePortal([(503, {"Retry-After": "7"}, {"detail": "busy"})])
    waits = []
    try:
        identity = enroll.enroll(settings_for(tmp_path, portal.url), StateDir(tmp_path / "state"), sleep=waits.append)
    finally:
        portal.close()
    assert identity.enrolled and len(portal.requests) == 2
    assert 7 <= waits[0] <= 7.7


def test_identity_round_trips_through_the_state_directory(tmp_path):
    state = StateDir(tmp_path / "state")
    identity = Identity(instance_uid="0" * 31 + "1", gateway_id="g", opamp_token="t", opamp_ws_url="ws://x")
    state.save_identity(identity)
    assert StateDir(tmp_path / "state").load_identity() == identity
