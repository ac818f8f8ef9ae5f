"""Who may open an OpAMP WebSocket, and what a refused one is answered (live server)."""

import pytest
from websockets.exceptions import InvalidStatus

from tests.live import Daphne, free_port, server_env, start, stop_process, wait_for_port
from tests.opamp_app.conftest import BAD_TOKENS, expired_token, open_ws, revoked_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(60)]


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_bad_token_is_refused_with_401_before_the_upgrade(daphne, gateway, kind):
    make, reason = BAD_TOKENS[kind]
    with pytest.raises(InvalidStatus) as refused:
        open_ws(daphne, make(gateway))
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert reason in response.body.decode()


def test_a_bad_token_in_the_query_string_is_refused_too(daphne, gateway):
    with pytest.raises(InvalidStatus) as refused:
        open_ws(daphne, query=f"?token={expired_token(gateway)}")
    assert refused.value.response.status_code == 401


def test_an_authorization_header_of_another_scheme_is_refused(daphne, token):
    with pytest.raises(InvalidStatus) as refused:
        open_ws(daphne, headers={"Authorization": f"Basic {token}"})
    assert refused.value.response.status_code == 401


def test_the_refusal_never_echoes_the_token(daphne, gateway):
    raw = revoked_token(gateway)
    with pytest.raises(InvalidStatus) as refused:
        open_ws(daphne, raw)
    assert raw not in refused.value.response.body.decode()
    assert raw not in daphne.output.text()


class PlainDaphne(Daphne):
    """The stock `daphne` command (without flowgate_site.serve), to show what it answers."""

    def __init__(self, port):
        self.ports = [port]
        command = ["daphne", "-e", f"tcp:port={port}:interface=127.0.0.1", "flowgate_site.asgi:application"]
        self.process, self.output = start(command, server_env())
        try:
            wait_for_port(port, self.process)
        except Exception:
            raise RuntimeError(stop_process(self.process, self.output)) from None


def test_under_plain_daphne_a_refusal_is_answered_403():
    # Documented deviation: stock Daphne has no ASGI denial response; flowgate_site.serve adds it.
    server = PlainDaphne(free_port())
    try:
        with pytest.raises(InvalidStatus) as refused:
            open_ws(server, None)
    finally:
        server.stop()
    assert refused.value.response.status_code == 403
