"""pyproject.toml: the wheel `pip install .` builds holds every local app, the supervisor and the OpAMP core, whole.

Packages are found by exclusion, so a new app is packaged without anyone listing it; this test builds the wheel
(offline, from a copy of the tree, so the build leaves nothing in the work tree) and fails if an app, one of its
templates, migrations or data files, the supervisor or opamp_core is missing, or if something that is not the project's
(tests, bench) slipped in.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

pytestmark = pytest.mark.process  # the wheel is built by pip in a subprocess

ROOT = Path(__file__).resolve().parents[2]
# What a checkout holds that is no source: local state, caches and earlier builds.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "var", "__pycache__", "*.pyc", ".*_cache", ".hypothesis", "build", "dist", "*.egg-info"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The names inside the wheel, and its entry points."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "src", ignore=NOT_SOURCE)
    command = [sys.executable, "-m", "pip", "wheel", str(work / "src"), "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "--wheel-dir", str(work / "out")]
    subprocess.run(command, check=True, capture_output=True, timeout=120, env={**os.environ, "PIP_NO_INPUT": "1"})
    (built,) = (work / "out").glob("flowgate-*.whl")
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
        dist_info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/RECORD"))
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    return names, entry_points


def local_packages():
    """The project's own INSTALLED_APPS (a folder at the repository root), the project package (settings, URLs, the
    server: no app), the supervisor and the OpAMP core."""
    local = {Path(app.path).name for app in apps.get_app_configs() if Path(app.path).parent == ROOT}
    project = settings.ROOT_URLCONF.split(".")[0]
    return sorted(local | {project, "gateway", "opamp_core"})


def source_files(package):
    """Every file of a package folder, Python's caches aside, relative to the repository."""
    found = []
    for current, directories, names in os.walk(ROOT / package):
        directories[:] = [name for name in directories if name != "__pycache__"]
        found += [(Path(current) / name).relative_to(ROOT).as_posix() for name in names if not name.endswith(".pyc")]
    return found


def test_the_local_apps_are_read_from_settings():
    assert {"core_app", "templates_app", "gateways_app", "opamp_app", "deployments_app", "dashboard_app"} <= set(
        local_packages()
    )
    assert "flowgate_site" in local_packages()
    assert {"gateway", "opamp_core"} <= set(local_packages())


@pytest.mark.parametrize("package", local_packages())
def test_the_wheel_holds_every_file_of_each_local_package(wheel, package):
    names, _entry_points = wheel
    missing = [path for path in source_files(package) if path not in names]
    assert not missing, f"the wheel lacks {missing}"


def test_the_wheel_holds_templates_migrations_and_data(wheel):
    names, _entry_points = wheel
    assert "dashboard_app/templates/dashboard_app/dashboard.html" in names
    assert "flowgate_site/templates/base.html" in names
    assert "core_app/templates/flowgate_site/_field.html" in names
    assert "core_app/migrations/0001_initial.py" in names
    assert "gateways_app/migrations/0001_initial.py" in names
    assert any(name.startswith("templates_app/data/") and name.endswith(".json") for name in names)
    assert "opamp_core/proto/opamp.proto" in names


def test_the_wheel_holds_nothing_but_the_projects_packages(wheel):
    names, _entry_points = wheel
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == set(local_packages())
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_wheel_gives_the_flowgate_gateway_command(wheel):
    _names, entry_points = wheel
    assert "flowgate-gateway = gateway.__main__:main" in entry_points
