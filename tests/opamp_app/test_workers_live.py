"""`python -m flowgate_site.serve --workers 2`: two server processes on one port, one fleet.

Agents land on both processes (SO_REUSEPORT spreads the connections); a deployment made in this
process reaches every agent wherever it is connected, through the channel layer on Redis.
"""

import os
from pathlib import Path

import pytest

from flowgate_site import workers
from gateways_app.models import Gateway
from gateways_app.services import assign_desired_config
from templates_app.services import create_template
from tests.live import free_port, server_env, start, stop_process, wait_for_port
from tests.opamp_app.conftest import WsAgent, make_token, open_ws

AGENTS = 16
CONFIG = "receivers:\n  otlp:\n    protocols:\n      http: {}\nexporters:\n  debug: {}\n"


class Server:
    def __init__(self, port):
        self.port = port
        self.ws_url = f"ws://127.0.0.1:{port}"


def children_of(pid):
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def established_on(pid, port):
    """How many ESTABLISHED TCP connections to `port` process `pid` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


@pytest.fixture
def fleet(org):
    return [Gateway.objects.create(organization=org, name=f"w-{index:02d}") for index in range(AGENTS)]


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_two_processes_share_the_port_and_a_push_reaches_agents_on_both(
    django_db_setup, redis_prefix, org, alice, fleet
):
    port = free_port()
    command = ["flowgate_site.serve", "--workers", "2", "-e", f"tcp:port={port}:interface=127.0.0.1"]
    process, output = start([*command, "flowgate_site.asgi:application"], server_env(FLOWGATE_EMBEDDED_BEAT="false"))
    agents = []
    try:
        wait_for_port(port, process)
        server = Server(port)
        for gateway in fleet:
            agent = WsAgent(open_ws(server, make_token(gateway)))
            agent.send()  # connected and answered: the connection lives in one of the processes
            agents.append(agent)
        children = children_of(process.pid)
        assert len(children) == 2
        spread = [established_on(child, port) for child in children]
        assert sum(spread) == AGENTS and min(spread) > 0, spread

        template = create_template(org, name="fleet", author=alice, config_yaml=CONFIG)
        assign_desired_config(Gateway.objects.filter(pk__in=[gateway.pk for gateway in fleet]), template.versions.get())
        bodies = [agent.receive(timeout=10).remote_config.config.config_map[""].body.decode() for agent in agents]
        assert bodies == [CONFIG] * AGENTS
    finally:
        for agent in agents:
            agent.close()
        text = stop_process(process, output)
    assert process.returncode == 0, text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--workers", "2", "-e", "tcp:port=8000", "app"], {"DATABASE_URL": "postgres://db/f"}, "needs REDIS_URL"),
        (["--workers", "2", "-e", "tcp:port=8000", "app"], {"REDIS_URL": "redis://r"}, "PostgreSQL"),
        (
            ["--workers", "2", "-b", "0.0.0.0", "app"],
            {"REDIS_URL": "redis://r", "DATABASE_URL": "postgres://db/f"},
            "-e",
        ),
        (["--workers", "2", "-e", "unix:/tmp/s", "app"], {"REDIS_URL": "r", "DATABASE_URL": "postgres://db/f"}, "tcp"),
        (["--workers", "two", "app"], {}, "number of processes"),
    ],
)
def test_a_setup_that_cannot_work_is_refused_with_a_message(argv, environ, message):
    with pytest.raises(workers.WorkersError) as refused:
        rest, count = workers.take_option(argv)
        workers.run(rest, count, environ)
    assert message in str(refused.value)
