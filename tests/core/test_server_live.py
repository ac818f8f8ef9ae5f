"""`python -m flowgate_site.serve` as a real process: its connection table and its shutdown.

The connection table is read through the server's own SIGUSR1 log line (an operator's view of it,
available to whoever may signal the process, nothing a client can reach).
"""

import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.live import Daphne, free_port
from tests.opamp_app.conftest import WsAgent, make_token, open_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(120)]

CYCLES = 1000
IN_FLIGHT = 20
TABLE_LINE = re.compile(r"Connections: (\d+), running application instances: (\d+)")


def connection_table(server, timeout=10):
    """(connections, running applications) from a fresh SIGUSR1 answer of the server."""
    before = len(TABLE_LINE.findall(server.output.text()))
    server.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = TABLE_LINE.findall(server.output.text())
        if len(answers) > before:
            return tuple(int(number) for number in answers[-1])
        time.sleep(0.05)
    raise TimeoutError(f"no answer to SIGUSR1: {server.output.text()[-2000:]}")


def settles_to(server, expected, timeout=10):
    """Wait until the table reads `expected`; its last reading."""
    deadline = time.monotonic() + timeout
    while True:
        table = connection_table(server)
        if table == expected or time.monotonic() > deadline:
            return table
        time.sleep(0.2)


@pytest.fixture
def server(django_db_setup):
    # Refusals (every fifth cycle has no token) must not be rate-limited into a different answer.
    made = Daphne([free_port()], FLOWGATE_OPAMP_AUTH_FAILURE_RATE="off", FLOWGATE_OPAMP_CONNECT_RATE="off")
    yield made
    if made.process.poll() is None:
        made.stop()


def cycle(server, token, number):
    """One WebSocket connection opened and closed: accepted, or refused with 401 when it has no token."""
    if number % 5 == 0:
        with pytest.raises(Exception, match="401"):
            open_ws(server)
        return
    open_ws(server, token).close()


def test_the_connection_table_does_not_grow_over_1000_connect_disconnect_cycles(server, gateway):
    token = make_token(gateway)
    assert connection_table(server) == (0, 0)
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        list(pool.map(lambda number: cycle(server, token, number), range(CYCLES)))
    # Every connection and application is gone after Daphne's next sweeps (every second).
    assert settles_to(server, (0, 0), timeout=5) == (0, 0)
    assert "Traceback" not in server.output.text()


def test_sigterm_with_50_open_websockets_exits_cleanly(server, gateway):
    agents = [WsAgent(open_ws(server, make_token(gateway))) for _ in range(50)]
    for agent in agents:
        agent.send()  # connected and answered: its consumer is running
    # 50 WebSockets, each with its application; their handshake requests gone with Daphne's next sweep.
    assert settles_to(server, (50, 50), timeout=5) == (50, 50)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=15)
    text = server.stop()
    assert time.monotonic() - started < 10
    assert server.process.returncode == 0, text
    assert "Traceback" not in text and "Exception" not in text, text
    assert "Killed 50 pending application instances" in text
