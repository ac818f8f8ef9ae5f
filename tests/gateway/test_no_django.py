"""The supervisor runs on hosts without Django: it and the OpAMP package it shares with the portal stand alone.

The gateway image holds `gateway/` and `opamp_core/` and nothing else of the repository, and installs neither
Django nor Channels. Every module of both packages is imported in a fresh interpreter (this test process has
Django loaded by pytest-django) and what that loaded is checked: no portal framework, no other package of the
repository (`opamp_app`, the other apps, the project package).
"""

import json
import subprocess
import sys

import pytest

from tests.live import ROOT

pytestmark = pytest.mark.process  # a fresh interpreter for each check

SHARED = ("gateway", "opamp_core")
# Frameworks only the portal installs (requirements.txt); the gateway image has none of them.
PORTAL_FRAMEWORKS = {"django", "channels", "daphne", "rest_framework", "celery", "kombu", "twisted", "autobahn"}


def modules_of(package):
    """Dotted names of every module of a repository package, its __init__ and __main__ included."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def repository_packages():
    """Top-level packages of the repository: the apps, the project package, gateway/, opamp_core/."""
    return {path.parent.name for path in ROOT.glob("*/__init__.py")}


def top_level_modules_loaded_by_importing(modules):
    """Top-level names in sys.modules after a fresh interpreter imports `modules`."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    # No DJANGO_SETTINGS_MODULE or other variable of this process: the supervisor's host has none.
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    return set(json.loads(result.stdout))


def test_the_supervisor_and_the_opamp_core_import_no_django_and_no_app():
    modules = modules_of("gateway") + modules_of("opamp_core")
    assert {"gateway.__main__", "gateway.supervisor", "opamp_core.protocol", "opamp_core.proto.opamp_pb2"} <= set(
        modules
    )
    loaded = top_level_modules_loaded_by_importing(modules)
    assert set(SHARED) <= loaded
    assert not loaded & PORTAL_FRAMEWORKS
    assert not loaded & (repository_packages() - set(SHARED)), "a module of the portal was imported"


def test_the_opamp_core_alone_imports_nothing_of_the_supervisor():
    # The portal imports opamp_core too: it must not drag the supervisor (asyncio client, collector runner) in.
    loaded = top_level_modules_loaded_by_importing(modules_of("opamp_core"))
    assert not loaded & (repository_packages() - {"opamp_core"})
    assert not loaded & PORTAL_FRAMEWORKS
