"""What the supervisor keeps between runs, in its state directory.

    <state_dir>/                  mode 0700
      identity.json               0600  instance_uid, gateway id, OpAMP token and endpoints (from
                                        enrollment, or offered over OpAMP: with the new token or
                                        endpoint being switched to)
      remote_config.json          0600  last remote config received: hash, status, error, YAML
      collector/config.yaml       0600  the configuration the collector runs (the effective config)
      collector/last-good.yaml    0600  the last configuration that ran healthy (rollback target)
      collector/candidate.yaml    0600  a configuration being validated (short-lived)

Every file is written atomically (temporary file in the same directory, fsync, rename, fsync of
the directory), so a crash or power cut leaves either the old or the new content, never half of
it, and the rename itself survives a power cut (a rotated token must not be lost). Each file is
created with mode 0600 from the start (the token is a secret; configs may hold secrets too).
"""

import base64
import json
import os
import secrets
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

IDENTITY_FILE = "identity.json"
REMOTE_CONFIG_FILE = "remote_config.json"


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 if missing; tighten it if it is wider."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Atomically replace `path` with `data`, mode 0600."""
    if isinstance(data, str):
        data = data.encode()
    ensure_dir(path.parent)
    # mkstemp creates the file 0600 already: the content is never readable by others.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (POSIX: the directory entry is data of the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_instance_uid(now_ms: int | None = None) -> bytes:
    """A UUIDv7 (OpAMP's recommendation) as 16 bytes: 48-bit milliseconds, version, random bits."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = bytearray(millis.to_bytes(6, "big") + secrets.token_bytes(10))
    value[6] = 0x70 | (value[6] & 0x0F)
    value[8] = 0x80 | (value[8] & 0x3F)
    return bytes(value)


@dataclass
class Identity:
    """Who this gateway is for the portal: the result of enrollment, reused on every later start."""

    instance_uid: str  # 32 hex characters
    gateway_id: str = ""
    name: str = ""
    organization: str = ""
    opamp_token: str = ""
    opamp_token_expires_at: str = ""
    # A token the portal offered over OpAMP, saved before the supervisor reconnects with it; it
    # replaces opamp_token once the portal accepted it (gateway/opamp_client.py, token rotation).
    opamp_token_candidate: str = ""
    # An OpAMP endpoint the portal offered (OpAMPConnectionSettings.destination_endpoint), saved with
    # the token before the supervisor tries it; it replaces the endpoints below once it worked.
    opamp_url_candidate: str = ""
    opamp_ws_url: str = ""
    opamp_http_url: str = ""
    portal_url: str = ""
    heartbeat_interval_seconds: int = 30

    @property
    def uid_bytes(self) -> bytes:
        return bytes.fromhex(self.instance_uid)

    @property
    def enrolled(self) -> bool:
        return bool(self.gateway_id and self.opamp_token)


@dataclass
class RemoteConfigState:
    """The last remote config the server sent and what became of it."""

    hash: str = ""  # hex of AgentRemoteConfig.config_hash
    status: str = "unset"  # unset | applying | applied | failed
    error: str = ""
    yaml: str = ""


class StateDir:
    """Load and save the files of one state directory."""

    def __init__(self, path):
        self.path = ensure_dir(Path(path))
        self.collector_dir = ensure_dir(self.path / "collector")

    def load_identity(self) -> Identity | None:
        data = self._read_json(IDENTITY_FILE)
        if data is None:
            return None
        known = {name: data[name] for name in Identity.__dataclass_fields__ if name in data}
        return Identity(**known)

    @staticmethod
    def new_identity() -> Identity:
        """An identity with a fresh instance_uid (not saved until enrollment succeeds)."""
        return Identity(instance_uid=new_instance_uid().hex())

    def save_identity(self, identity: Identity) -> None:
        write_private(self.path / IDENTITY_FILE, json.dumps(asdict(identity), indent=2) + "\n")

    def forget_identity(self) -> None:
        (self.path / IDENTITY_FILE).unlink(missing_ok=True)

    def load_remote_config(self) -> RemoteConfigState:
        data = self._read_json(REMOTE_CONFIG_FILE) or {}
        known = {name: data[name] for name in RemoteConfigState.__dataclass_fields__ if name in data}
        return RemoteConfigState(**known)

    def save_remote_config(self, remote: RemoteConfigState) -> None:
        write_private(self.path / REMOTE_CONFIG_FILE, json.dumps(asdict(remote), indent=2) + "\n")

    def _read_json(self, name):
        try:
            return json.loads((self.path / name).read_text())
        except FileNotFoundError:
            return None


def token_expiry(token: str) -> str:
    """The `exp` claim of a JWT as an ISO time (for identity.json, informational), '' if unreadable.

    Not a verification: the portal checks the token; this only reads when it ends.
    """
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC).isoformat()
    except (IndexError, ValueError, KeyError, TypeError):
        return ""


def uid_text(uid: bytes) -> str:
    """The canonical UUID text of a 16-byte instance_uid (for logs and HTTP headers)."""
    return str(uuid.UUID(bytes=uid))
