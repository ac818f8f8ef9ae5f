"""The commands the token page prints for a gateway host work as printed (gateways_app/gateway_commands.py).

Seen by a new user: the printed `python -m gateway ...` failed with the system Python (ModuleNotFoundError: google)
and had no state directory (the default, /var/lib/flowgate-gateway, needs root). The test here runs the printed
install command with a fresh HOME, from a copy of this checkout, then the printed entry point.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateways_app import gateway_commands
from tests.core.test_packaging import NOT_SOURCE, ROOT


def test_the_run_command_uses_the_installed_entry_point_and_a_state_directory_the_user_owns():
    command = gateway_commands.run_command("http://127.0.0.1:8000", "tok'en")
    assert command == (
        "~/flowgate-gateway/bin/flowgate-gateway --portal-url http://127.0.0.1:8000 "
        "--registration-token 'tok'\"'\"'en' --state-dir ~/flowgate-gateway/state"
    )
    assert gateway_commands.run_command("https://f.example.com", "t", re_enroll=True).endswith(" --re-enroll")


def test_the_install_command_defaults_to_the_portals_own_checkout(settings):
    settings.FLOWGATE_GATEWAY_SOURCE = ""
    assert gateway_commands.install_command() == (
        "python3 -m venv ~/flowgate-gateway && ~/flowgate-gateway/bin/pip install "
        f"'flowgate[collector] @ {ROOT.as_uri()}'"
    )
    settings.FLOWGATE_GATEWAY_SOURCE = "git+https://git.example.com/flowgate.git@v0.1.0"
    expected = "'flowgate[collector] @ git+https://git.example.com/flowgate.git@v0.1.0'"
    assert gateway_commands.install_command().endswith(f"pip install {expected}")


@pytest.mark.process  # python3 -m venv, pip, then the supervisor
@pytest.mark.timeout(600)
def test_the_printed_install_gives_a_flowgate_gateway_that_starts(tmp_path):
    checkout = tmp_path / "flowgate"
    shutil.copytree(ROOT, checkout, ignore=NOT_SOURCE)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PIP_NO_INPUT": "1"}
    env.pop("VIRTUAL_ENV", None)
    # `python3` as printed, but this test's interpreter (3.11+, the one the project supports) first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    install = gateway_commands.install_command(source=checkout.as_uri())
    done = subprocess.run(["sh", "-c", install], env=env, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # The entry point's module imports the whole supervisor (protobuf, PyYAML, websockets) before it parses flags.
    run = f"{gateway_commands.GATEWAY_BIN} --help"
    started = subprocess.run(["sh", "-c", run], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0 and "--state-dir" in started.stdout, started.stderr
    # The `collector` extra brought the test build of otelcol-contrib, which the supervisor finds by itself.
    venv_python = home / "flowgate-gateway" / "bin" / "python"
    found = subprocess.run(
        [str(venv_python), "-c", "from gateway.config import find_collector; print(find_collector())"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert found.stdout.strip().startswith(str(home / "flowgate-gateway")), found.stdout + found.stderr


def test_the_packages_dependencies_are_pinned_as_in_the_requirements_files():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = set()
    for name in ("requirements.txt", "requirements-dev.txt"):
        lines = (ROOT / name).read_text().splitlines()
        pins |= {line.strip() for line in lines if "==" in line and not line.startswith("#")}
    required = project["dependencies"] + project["optional-dependencies"]["collector"]
    assert required and set(required) <= pins, set(required) - pins
