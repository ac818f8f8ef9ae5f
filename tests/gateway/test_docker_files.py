"""docker/: the Dockerfiles and docker-compose.yml cannot run here, so they are checked against the project.

Every file they copy must exist, every `python -m` module must be importable, every
manage.py command and Celery app must exist, every FLOWGATE_* variable given to the gateway
must be a supervisor setting, the published ports must be the seed's, and every ${VARIABLE}
the compose file reads must be listed in docker/.env.example.
"""

import importlib.util
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from gateway.config import Settings

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
