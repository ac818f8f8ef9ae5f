"""Request body limits on a live server: oversize bodies are refused while they arrive (docs/security.md)."""

import socket
import time

import pytest
import requests

from opamp_core.proto import opamp_pb2
from tests.live import Daphne, free_port
from tests.opamp_app.conftest import make_token
from tests.opamp_app.peer import CONFIG_CAPS, Agent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(120)]

MiB = 1024 * 1024
STREAMED = 300 * MiB  # what a client offers; never stored, generated chunk by chunk
CHUNK = b"x" * MiB
# Every path the issue named, with its limit under the defaults (settings.FLOWGATE_REQUEST_BODY_LIMITS).
LIMITED_PATHS = {
    "/v1/opamp": 4 * MiB,
    "/login/": 64 * 1024,
    "/api/v1/gateways/register": 64 * 1024,
}


@pytest.fixture(scope="module")
def server(django_db_setup):
    started = Daphne([free_port()])
    yield started
    started.stop()


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/<pid>/status")


def connect(server):
    sock = socket.create_connection(("127.0.0.1", server.ports[0]), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    return sock


def head(path, *headers):
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/x-protobuf", *headers, "", ""]
    return "\r\n".join(lines).encode()


def read_answer(sock, timeout):
    """What the server answered within `timeout` seconds (b"" if it closed without answering)."""
    sock.settimeout(timeout)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (TimeoutError, ConnectionResetError):
        pass
    return answer


def stream_chunked(sock, total):
    """Send up to `total` bytes as 1 MiB chunks, stopping when the server answers; (bytes sent, answer)."""
    sent = 0
    sock.setblocking(False)
    try:
        while sent < total:
            frame = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
            view = memoryview(frame)
            while view:
                try:
                    view = view[sock.send(view) :]
                except BlockingIOError:
                    if answered(sock):
                        return sent, read_answer(sock, 5)
                    time.sleep(0.001)  # the socket buffer is full: poll again for room or an answer
            sent += len(CHUNK)
            if answered(sock):
                return sent, read_answer(sock, 5)
        sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent, read_answer(sock, 30)


def answered(sock):
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("path", LIMITED_PATHS)
def test_a_streamed_chunked_body_is_cut_off_at_the_limit_without_growing_the_server(server, path):
    before = rss_bytes(server.process.pid)
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(head(path, "Transfer-Encoding: chunked"))
        sent, answer = stream_chunked(sock, STREAMED)
    elapsed = time.monotonic() - started
    grown = rss_bytes(server.process.pid) - before
    print(f"{path}: 413 after {sent / MiB:.0f} MiB sent, {elapsed:.2f} s; server RSS grew {grown / MiB:.1f} MiB")
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    # Cut off while arriving: far less than offered was sent (the rest is socket buffers), nothing kept.
    assert sent < 64 * MiB
    assert grown < 50 * MiB


@pytest.mark.parametrize("path", LIMITED_PATHS)
def test_a_content_length_over_the_limit_is_refused_before_the_body_is_sent(server, path):
    with connect(server) as sock:
        sock.sendall(head(path, f"Content-Length: {LIMITED_PATHS[path] + 1}"))
        answer = read_answer(sock, 5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"Connection: close" in answer
    assert f"{LIMITED_PATHS[path]}-byte limit".encode() in answer


def test_a_content_length_at_the_limit_reaches_the_application(server):
    # Exactly the limit is allowed: the application answers (here: 401, no token), not the server.
    with connect(server) as sock:
        sock.sendall(head("/api/v1/gateways/register", f"Content-Length: {64 * 1024}") + b"{" * (64 * 1024))
        answer = read_answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 401 "), answer


def test_a_refused_path_is_matched_after_percent_decoding(server):
    # /v1/%6fpamp is routed to /v1/opamp by Django: it must not escape the OpAMP limit.
    with connect(server) as sock:
        sock.sendall(head("/v1/%6fpamp", f"Content-Length: {4 * MiB + 1}"))
        answer = read_answer(sock, 5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer


def test_an_opamp_report_under_the_limit_still_works_chunked_or_not(server, gateway):
    token = make_token(gateway)
    agent = Agent(capabilities=CONFIG_CAPS)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    body = agent.message().SerializeToString()
    plain = requests.post(f"{server.url}/v1/opamp", data=body, headers=headers, timeout=20)
    # A generator body goes out with Transfer-Encoding: chunked.
    chunked = requests.post(
        f"{server.url}/v1/opamp", data=iter([agent.message().SerializeToString()]), headers=headers, timeout=20
    )
    assert plain.status_code == chunked.status_code == 200
    assert opamp_pb2.ServerToAgent.FromString(chunked.content).instance_uid == agent.uid


def test_other_paths_get_the_default_limit(server):
    with connect(server) as sock:
        sock.sendall(head("/api/v1/organizations/", f"Content-Length: {4 * MiB + 1}"))
        answer = read_answer(sock, 5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    # Under the default limit, the page itself answers.
    assert requests.get(f"{server.url}/login/", timeout=10).status_code == 200
