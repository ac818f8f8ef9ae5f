"""The collector's configuration: base config + remote config, applied safely.

Merge rules (`merge()`), the remote config laid over the local base config:
- two mappings are merged key by key, recursively (so a base that sets only
  `service.telemetry` and a remote config that sets `service.pipelines` both survive);
- anywhere else the remote value wins whole: scalars, lists (a pipeline's `receivers: [...]`
  list is replaced, never concatenated) and null (`batch:` with no value stays "defaults");
- keys only in the base are kept, keys only in the remote config are added.

Applying (`ConfigManager.apply()`): render the merge to `candidate.yaml`, run `<collector>
validate --config candidate.yaml`, swap it in as `config.yaml`, restart the collector and
wait until it is healthy (ready and still up after a settle time) within `apply_timeout`.
If it is not, `last-good.yaml` (the config that last ran healthy) is put back and the
collector restarted on it; the error reported is the collector's own text. `config.yaml` is
always the file that runs: it is the effective config reported to the portal.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from gateway import collector as collector_module
from gateway.state import RemoteConfigState, StateDir, write_private

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration cannot be used; the message says why."""


def merge(base, remote):
    """`remote` laid over `base` (see the module docstring). Neither argument is modified."""
    if isinstance(base, dict) and isinstance(remote, dict):
        merged = dict(base)
        for key, value in remote.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return remote


def parse_mapping(text: str, what: str) -> dict:
    """A YAML document that must be a mapping (empty text is an empty mapping)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a YAML mapping, not a {type(data).__name__}")
    return data


def has_pipelines(config: dict) -> bool:
    """Whether the config defines a pipeline (a base config alone often only sets telemetry)."""
    service = config.get("service")
    return isinstance(service, dict) and bool(service.get("pipelines"))


def render(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


@dataclass
class ApplyResult:
    ok: bool
    error: str = ""


class ConfigManager:
    """The config files of one state directory and the collector that runs them."""

    def __init__(self, state: StateDir, collector, *, base_path="", apply_timeout=30.0, settle=1.0, extend=None):
        self.collector = collector
        # A function laid over every config before it is written (the local OpAMP extension), or None.
        self.extend = extend
        self.base_path = base_path
        self.apply_timeout = apply_timeout
        self.settle = settle
        self.running_path = state.collector_dir / "config.yaml"
        self.last_good_path = state.collector_dir / "last-good.yaml"
        self.candidate_path = state.collector_dir / "candidate.yaml"

    def base(self) -> dict:
        if not self.base_path:
            return {}
        try:
            text = Path(self.base_path).read_text()
        except OSError as error:
            raise ConfigError(f"cannot read the base config {self.base_path}: {error}") from None
        return parse_mapping(text, f"the base config {self.base_path}")

    def effective_config(self) -> str:
        """The text of the file the collector runs ('' before any config ran)."""
        try:
            return self.running_path.read_text()
        except FileNotFoundError:
            return ""

    def desired_text(self, remote: RemoteConfigState) -> str:
        """What should run at start: base + the applied remote config; the last good after a failure."""
        if remote.status in ("applied", "applying") and remote.yaml:
            return self.render(merge(self.base(), parse_mapping(remote.yaml, "the remote config")))
        if remote.status == "failed" and self.running_path.exists():
            return self.running_path.read_text()
        base = self.base()
        return self.render(base) if has_pipelines(base) else ""

    def render(self, config: dict) -> str:
        return render(self.extend(config) if self.extend else config)

    async def start(self, remote: RemoteConfigState) -> ApplyResult:
        """Start the collector at supervisor start. Nothing to run (no base, no remote config): idle."""
        text = self.desired_text(remote)
        if not text:
            logger.info("no configuration yet: the collector starts with the first remote config")
            return ApplyResult(False, "no configuration to run yet")
        if text == self.effective_config():
            await self.collector.start()
            return await self._healthy_or_rollback()
        return await self.apply_text(text)

    async def apply_remote(self, remote_yaml: str) -> ApplyResult:
        """Merge a remote config over the base config and apply it."""
        try:
            text = self.render(merge(self.base(), parse_mapping(remote_yaml, "the remote config")))
        except ConfigError as error:
            return ApplyResult(False, str(error))
        return await self.apply_text(text)

    async def apply_text(self, text: str) -> ApplyResult:
        """Validate, swap, restart, check health; roll back to the last good config on failure."""
        if text == self.effective_config() and self.collector.running and self.collector.ready.is_set():
            return ApplyResult(True)  # already running exactly this (e.g. a rollback to it): no restart
        write_private(self.candidate_path, text)
        ok, error = await collector_module.validate(self.collector.binary, self.candidate_path)
        if not ok:
            self.candidate_path.unlink(missing_ok=True)
            logger.warning("config refused by `validate`: %s", error)
            return ApplyResult(False, error)
        os.replace(self.candidate_path, self.running_path)
        await self.collector.restart()
        return await self._healthy_or_rollback()

    async def reapply(self, transform) -> ApplyResult:
        """Run `transform(running config)` instead of the running config, applied like any config.

        For what the supervisor itself adds to every config (its own-metrics reader, gateway/own_metrics.py)
        when that changes: validated, swapped, restarted, rolled back on failure. Nothing runs yet: nothing
        to do (the next config gets it through `extend`).
        """
        text = self.effective_config()
        if not text:
            return ApplyResult(True)
        try:
            config = parse_mapping(text, "the running config")
        except ConfigError as error:
            return ApplyResult(False, str(error))
        return await self.apply_text(render(transform(config)))

    async def restart(self) -> ApplyResult:
        """Restart the collector on its current config (the OpAMP Restart command)."""
        if not self.running_path.exists():
            return ApplyResult(False, "no configuration to run yet")
        await self.collector.restart()
        return await self._healthy_or_rollback()

    async def _healthy_or_rollback(self) -> ApplyResult:
        ok, error = await self.collector.wait_healthy(self.apply_timeout, settle=self.settle)
        if ok:
            write_private(self.last_good_path, self.running_path.read_text())
            return ApplyResult(True)
        logger.error("the collector is not healthy on the new config: %s", error)
        await self._roll_back()
        return ApplyResult(False, error)

    async def _roll_back(self) -> None:
        if not self.last_good_path.exists():
            # Nothing ever ran healthy: stop rather than crash-loop on a config known to fail.
            await self.collector.stop()
            self.running_path.unlink(missing_ok=True)
            return
        write_private(self.running_path, self.last_good_path.read_text())
        await self.collector.restart()
        ok, error = await self.collector.wait_healthy(self.apply_timeout, settle=self.settle)
        if ok:
            logger.info("restored the last good config")
        else:
            logger.error("the last good config does not run either: %s", error)
