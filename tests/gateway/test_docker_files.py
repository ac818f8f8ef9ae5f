"""docker/: the Dockerfiles and docker-compose.yml cannot run here, so they are checked against the project.

Every file they copy must exist and be in the build context after `.dockerignore`, every file the portal
runs (each local app whole, manage.py, static/, the template directories, the modules its commands name) must
land in the portal image, every module the supervisor imports in the gateway image, and local state and
secrets must stay out of the context. Every `python -m` module must be importable, every manage.py command and
Celery app must exist, every FLOWGATE_* variable given to the gateway must be a supervisor setting, the
published ports must be the seed's, and every ${VARIABLE} the compose file reads must be listed in
docker/.env.example.
"""

import ast
import importlib.util
import os
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands

from gateway.config import Settings
from tests.dockerignore import DockerIgnore, read_patterns

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SEED_PORTS = {8000, 4320, 4317, 4318, 8888, 4321}


def compose():
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def dockerfile_instructions(name):
    """(instruction, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DOCKER / name).read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def command_words(command):
    """A compose/Dockerfile command (exec list, or `sh -c` text) as a flat list of words."""
    if isinstance(command, str):
        command = yaml.safe_load(command) if command.startswith("[") else shlex.split(command)
    words = []
    for part in command:
        words += shlex.split(part) if " " in part else [part]
    return words


def check_command(words):
    """Modules after `-m`, manage.py subcommands and the Celery app named in `words` exist."""
    for index, word in enumerate(words):
        if word == "-m" and words[index - 1] == "python":
            assert importlib.util.find_spec(words[index + 1]), f"no module {words[index + 1]}"
        if word == "manage.py":
            assert (ROOT / "manage.py").exists()
            assert words[index + 1] in get_commands(), f"no manage.py command {words[index + 1]}"
        if word == "-A" and words[index - 1] == "celery":
            assert (ROOT / words[index + 1] / "celery.py").exists(), "no Celery app module"
        if ":" in word and word.endswith(":application"):
            module, _, attribute = word.partition(":")
            assert importlib.util.find_spec(module) and attribute == "application"


def copies(dockerfile):
    """(sources, target) of each COPY from the build context (not from another stage), options dropped."""
    result = []
    for instruction, args in dockerfile_instructions(dockerfile):
        words = args.split()
        if instruction != "COPY" or any(word.startswith("--from=") for word in words):
            continue
        *sources, target = [word for word in words if not word.startswith("--")]
        result.append((sources, target))
    return result


def image_paths(dockerfile, path):
    """Where the context file `path` lands in the image of `dockerfile` (none if no COPY takes it)."""
    landed = []
    for sources, target in copies(dockerfile):
        for source in sources:
            source = source.rstrip("/")
            if source == ".":
                landed.append(target.rstrip("/") + "/" + path)
            elif path.startswith(source + "/"):
                landed.append(target.rstrip("/") + "/" + path[len(source) + 1 :])
            elif path == source:
                folder = target.endswith("/") or len(sources) > 1
                landed.append(target + path.rsplit("/", 1)[-1] if folder else target)
    return landed


def workdir(dockerfile):
    return [args for instruction, args in dockerfile_instructions(dockerfile) if instruction == "WORKDIR"][-1]


def assert_in_image(dockerfile, paths):
    """Every context-relative path is in the build context and copied to the same place under WORKDIR."""
    ignore = DockerIgnore.of_context(ROOT)
    left_out = sorted(path for path in paths if ignore.excludes(path))
    assert not left_out, f".dockerignore leaves out of the build context what {dockerfile} needs: {left_out}"
    missing = sorted(path for path in paths if f"{workdir(dockerfile)}/{path}" not in image_paths(dockerfile, path))
    assert not missing, f"{dockerfile} does not copy {missing}"


def package_files(folder):
    """Every file of a source folder, relative to the repository, Python's caches aside."""
    found = []
    for current, directories, names in os.walk(ROOT / folder):
        directories[:] = [name for name in directories if name != "__pycache__"]
        found += [(Path(current) / name).relative_to(ROOT).as_posix() for name in names if not name.endswith(".pyc")]
    return found


def local_apps():
    """The INSTALLED_APPS that are this repository's own packages (a folder at its root)."""
    return sorted(Path(app.path).name for app in apps.get_app_configs() if Path(app.path).parent == ROOT)


def module_files(dotted):
    """The repository files that importing `dotted` runs: each package's __init__.py and the module itself."""
    parts = dotted.split(".")
    if not (ROOT / parts[0] / "__init__.py").is_file():
        return []
    found = []
    for depth in range(1, len(parts) + 1):
        base = ROOT.joinpath(*parts[:depth])
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                found.append(candidate.relative_to(ROOT).as_posix())
    return found


def imported_names(path):
    """Dotted names a module imports (at any depth of its code), relative imports resolved."""
    package = path.split("/")[:-1]  # of a/b/c.py and of a/b/__init__.py alike: a.b
    names = []
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def import_closure(paths):
    """The repository files `paths` import, directly or through each other, `paths` included."""
    seen, todo = set(), list(paths)
    while todo:
        path = todo.pop()
        if path in seen or not path.endswith(".py"):
            continue
        seen.add(path)
        for name in imported_names(path):
            todo += module_files(name)
    return seen


def command_modules(words):
    """Modules a command runs: `python -m X`, `X:application`, `celery -A X` (its celery module)."""
    modules = []
    for index, word in enumerate(words):
        if word == "-m" and words[index - 1] == "python":
            modules.append(words[index + 1])
        if word == "-A" and words[index - 1] == "celery":
            modules.append(words[index + 1] + ".celery")
        if word.endswith(":application"):
            modules.append(word.partition(":")[0])
    return modules


def portal_commands():
    commands = [command_words(args) for name, args in dockerfile_instructions("portal.Dockerfile") if name == "CMD"]
    return commands + [command_words(compose()["services"][name]["command"]) for name in ("web", "worker")]


def builds():
    return {name: service["build"] for name, service in compose()["services"].items() if "build" in service}


def test_every_built_service_names_an_existing_dockerfile_and_context():
    assert set(builds()) == {"web", "worker", "gateway"}
    for build in builds().values():
        assert (DOCKER / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).is_file()


@pytest.mark.parametrize("dockerfile", ["portal.Dockerfile", "gateway.Dockerfile"])
def test_every_file_a_dockerfile_copies_exists(dockerfile):
    copies = [args for instruction, args in dockerfile_instructions(dockerfile) if instruction == "COPY"]
    assert copies
    for args in copies:
        if args.startswith("--from="):
            continue
        *sources, _target = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile} copies missing {source}"


@pytest.mark.parametrize("dockerfile", ["portal.Dockerfile", "gateway.Dockerfile"])
def test_every_path_a_dockerfile_copies_is_in_the_build_context(dockerfile):
    ignore = DockerIgnore.of_context(ROOT)
    for sources, _target in copies(dockerfile):
        for source in sources:
            kept = [path for path in package_files(source) if not ignore.excludes(path)]
            # A file source must be kept; a folder must keep at least one file (COPY fails on nothing).
            assert kept if (ROOT / source).is_dir() else not ignore.excludes(source), f"{source} is not in the context"


def test_every_local_app_and_the_project_package_are_in_the_portal_image_whole():
    assert {"core_app", "dashboard_app"} <= set(local_apps())
    project = settings.ROOT_URLCONF.split(".")[0]  # flowgate_site: settings, URLs, the server; no app
    for package in [*local_apps(), project]:
        assert_in_image("portal.Dockerfile", package_files(package))


def test_what_the_portal_commands_run_is_in_the_portal_image():
    needed = ["manage.py", "requirements.txt"]
    for folder in [*settings.STATICFILES_DIRS, *settings.TEMPLATES[0]["DIRS"]]:
        needed += package_files(Path(folder).relative_to(ROOT))
    for words in portal_commands():
        for module in command_modules(words):
            assert module_files(module), f"no module {module}"
            needed += module_files(module)
    assert "flowgate_site/serve.py" in needed and "flowgate_site/celery.py" in needed
    assert_in_image("portal.Dockerfile", needed)


def test_every_module_the_supervisor_imports_is_in_the_gateway_image():
    closure = import_closure(path for path in package_files("gateway") if path.endswith(".py"))
    assert {"gateway/__main__.py", "opamp_core/framing.py", "opamp_core/proto/opamp_pb2.py"} <= closure
    assert_in_image("gateway.Dockerfile", sorted(closure) + ["requirements.txt"])


def test_the_gateway_image_copies_the_supervisor_and_the_opamp_core_whole_and_no_app():
    # Nothing of the portal (opamp_app and the other apps need Django, which the image does not install).
    sources = {source.rstrip("/") for sources, _target in copies("gateway.Dockerfile") for source in sources}
    assert sources == {"gateway", "opamp_core", "requirements.txt", "docker/gateway-base.yaml"}
    assert_in_image("gateway.Dockerfile", package_files("gateway") + package_files("opamp_core"))


# Local state, caches and secrets never enter the build context (nor, so, an image layer); nor what no image runs.
KEPT_OUT = [
    ".git/HEAD",
    ".venv/bin/python",
    "var/flowgate.sqlite3",
    "db.sqlite3",
    "gateways_app/leftover.sqlite3",
    "var/flowgate.sqlite3-journal",
    ".env",
    "docker/.env",
    "flowgate_site/.env",
    "flowgate_site/__pycache__/settings.cpython-311.pyc",
    "gateway/backoff.pyc",
    ".pytest_cache/README.md",
    ".ruff_cache/CACHEDIR.TAG",
    ".hypothesis/examples",
    "staticfiles/flowgate/pages.css",
    "build/lib/gateway/__init__.py",
    "flowgate.egg-info/PKG-INFO",
    "tests/conftest.py",
    "bench/README.md",
    "docs/architecture.md",
]


@pytest.mark.parametrize("path", KEPT_OUT)
def test_the_build_context_keeps_out_local_state_secrets_and_tests(path):
    assert DockerIgnore.of_context(ROOT).excludes(path)


def test_no_file_of_local_state_or_a_secret_is_in_the_build_context_of_this_tree():
    for path in DockerIgnore(read_patterns((ROOT / ".dockerignore").read_text())).files(ROOT):
        parts = path.split("/")
        assert not {".git", ".venv", "var", "__pycache__"} & set(parts), path
        assert parts[-1] != ".env" and not parts[-1].endswith((".pyc", ".sqlite3")), path


# (patterns, path, excluded) after Docker's documented rules: anchored at the root, `**`, `!` exceptions, order.
DOCKERIGNORE_CASES = [
    ("*.md", "README.md", True),
    ("*.md", "docs/api.md", False),
    ("**/*.md", "docs/api.md", True),
    ("**/*.md", "README.md", True),
    ("*/temp*", "somedir/temporary.txt", True),
    ("*/temp*", "temp", False),
    ("*/*/temp*", "somedir/subdir/temporary.txt", True),
    ("temp?", "tempa", True),
    ("temp?", "temp", False),
    ("/var", "var/flowgate.sqlite3", True),
    ("var/", "var/a/b", True),
    (".git", ".git/objects/ab/cd", True),
    ("docs/**", "docs/a/b.md", True),
    ("docs/**", "docsx/a.md", False),
    ("**/__pycache__", "a/b/__pycache__/c.pyc", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a.b", "axb", False),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("[ab]c", "bc", True),
    ("*.md\n!README.md", "README.md", False),
    ("*.md\n!README.md", "CHANGES.md", True),
    ("!README.md\n*.md", "README.md", True),
    ("docs\n!docs/keep.md", "docs/keep.md", False),
    ("docs\n!docs/keep.md", "docs/other.md", True),
    ("# docs\n", "docs/a.md", False),
    ("  docs  ", "docs/a.md", True),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), DOCKERIGNORE_CASES)
def test_dockerignore_patterns_match_as_docker_matches_them(patterns, path, excluded):
    assert DockerIgnore(read_patterns(patterns)).excludes(path) is excluded


@pytest.mark.parametrize("dockerfile", ["portal.Dockerfile", "gateway.Dockerfile"])
def test_the_commands_of_the_dockerfiles_exist(dockerfile):
    for instruction, args in dockerfile_instructions(dockerfile):
        if instruction in ("CMD", "ENTRYPOINT"):
            check_command(command_words(args))


def test_the_gateway_image_takes_the_official_collector_binary():
    instructions = dockerfile_instructions("gateway.Dockerfile")
    assert ("FROM", "otel/opentelemetry-collector-contrib:${OTELCOL_VERSION} AS otelcol") in instructions
    copy = [args for name, args in instructions if name == "COPY" and args.startswith("--from=otelcol")]
    assert copy == ["--from=otelcol /otelcol-contrib /usr/local/bin/otelcol-contrib"]
    assert ("ENTRYPOINT", '["python", "-m", "gateway"]') in instructions


def test_the_gateway_image_installs_the_pinned_versions_of_what_the_supervisor_imports():
    run = next(args for name, args in dockerfile_instructions("gateway.Dockerfile") if "grep" in args)
    wanted = re.search(r"\^\((.+)\)==", run).group(1).split("|")
    pinned = {line.split("==")[0] for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line}
    assert set(wanted) <= pinned
    assert {"websockets", "PyYAML", "protobuf"} <= set(wanted)


def test_the_compose_commands_exist():
    for name in ("web", "worker"):
        check_command(command_words(compose()["services"][name]["command"]))


def test_the_published_ports_are_the_seeds():
    published = set()
    for service in compose()["services"].values():
        for mapping in service.get("ports", []):
            published.add(int(str(mapping).split(":")[-1]))
    assert published == SEED_PORTS
    web = " ".join(command_words(compose()["services"]["web"]["command"]))
    assert "tcp:port=8000" in web and "tcp:port=4320" in web


def test_the_gateway_environment_names_only_supervisor_settings():
    names = {f"FLOWGATE_{item.name.upper()}" for item in fields(Settings)}
    environment = compose()["services"]["gateway"]["environment"]
    assert set(environment) <= names
    dockerfile_env = " ".join(args for name, args in dockerfile_instructions("gateway.Dockerfile") if name == "ENV")
    assert set(re.findall(r"FLOWGATE_\w+", dockerfile_env)) <= names


def test_every_variable_the_compose_file_reads_is_in_the_env_example():
    listed = {line.split("=", 1)[0] for line in (DOCKER / ".env.example").read_text().splitlines() if "=" in line}
    used = set(re.findall(r"\$\{(\w+)", (DOCKER / "docker-compose.yml").read_text()))
    assert used <= listed


def test_the_gateway_base_config_is_valid_yaml_with_the_metrics_port():
    base = yaml.safe_load((DOCKER / "gateway-base.yaml").read_text())
    reader = base["service"]["telemetry"]["metrics"]["readers"][0]
    assert reader["pull"]["exporter"]["prometheus"]["port"] == 8888
