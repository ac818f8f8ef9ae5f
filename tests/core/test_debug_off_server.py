"""The server as `make run` starts it, DEBUG off (tests/core/test_make_run.py reads the recipe): the collected
static files are still served (WhiteNoise, hashed names) and a wrong URL gets the product's 404, not Django's
debug page. Plain HTTP on this machine, as the Makefile's RUN_ENV sets it.
"""

import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests import live
from tests.live import Daphne, free_port

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

RUN_ENV = {
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
}


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (our own local server)
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


@pytest.fixture
def server(tmp_path):
    env = live.server_env(STATIC_ROOT=str(tmp_path / "static"), **RUN_ENV)
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]
    subprocess.run(command, cwd=live.ROOT, env=env, check=True, capture_output=True, timeout=120)
    daphne = Daphne([free_port()], STATIC_ROOT=str(tmp_path / "static"), **RUN_ENV)
    yield daphne
    daphne.stop()


def test_with_debug_off_static_files_are_served_and_errors_are_the_products(server):
    status, _headers, login = fetch(server.url + "/login/")
    assert status == 200
    stylesheet = re.search(r'href="(/static/flowgate/pages\.[0-9a-f]{12}\.css)"', login)
    assert stylesheet, "the page links the hashed stylesheet collectstatic wrote"
    status, headers, _css = fetch(server.url + stylesheet.group(1))
    assert status == 200 and headers["Content-Type"].startswith("text/css")

    status, _headers, body = fetch(server.url + "/no/such/page/")
    assert status == 404 and "Not found" in body
    assert "URLconf" not in body and "DEBUG = True" not in body  # Django's debug 404 says both
    status, headers, body = fetch(server.url + "/api/v1/nope/")
    assert status == 404 and headers["Content-Type"] == "application/json"
