"""flowgate_site.server_extensions: which of serve.py's changes to Daphne run, against which versions.

Both paths of the startup check: on the tested versions every extension runs; on another version
(the detected versions monkeypatched) the performance extensions fall back to Daphne's stock path
with a warning while the correctness ones keep running, or stop the server if a name they need is gone.
"""

import logging
import re

import pytest
from daphne.http_protocol import HTTPFactory
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings
from twisted.internet import abstract
from twisted.internet.task import Clock

from flowgate_site import serve, server_extensions
from flowgate_site.server_extensions import CORRECTNESS, EXTENSIONS, PERFORMANCE, TESTED_VERSIONS
from tests.live import ROOT

ALL = {extension.name for extension in EXTENSIONS}
PERFORMANCE_NAMES = {extension.name for extension in EXTENSIONS if extension.kind == PERFORMANCE}
OTHER_TWISTED = {**TESTED_VERSIONS, "Twisted": "27.1.0"}


@pytest.fixture
def clock(monkeypatch):
    """Twisted's test clock in place of the reactor: nothing the tests start runs on the real one."""
    made = Clock()
    monkeypatch.setattr(serve, "reactor", made)
    monkeypatch.setattr("daphne.server.reactor", made)
    return made


def make_server(monkeypatch, installed):
    monkeypatch.setattr(server_extensions, "installed_versions", lambda: installed)
    server = serve.FlowGateServer(application=None, endpoints=["tcp:0"], signal_handlers=False)
    server.connections = {}  # what Daphne's run() starts with
    return server


@override_settings(FLOWGATE_EMBEDDED_BEAT=False)
def configure(server, monkeypatch):
    """What Daphne's run() does before the reactor starts: the factories, then the ready callable."""
    monkeypatch.setattr(serve.FlowGateWebSocketProtocol, "send_at_once", None)
    server.http_factory = HTTPFactory(server)
    server.ws_factory = WebSocketFactory(server, server=server.server_name)
    server.configure_websockets()


def test_the_tested_versions_are_the_ones_requirements_pins():
    text = (ROOT / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z][\w.-]*)==(\S+)$", text, re.MULTILINE))
    assert {name: pins.get(name) for name in TESTED_VERSIONS} == TESTED_VERSIONS


def test_the_installed_versions_are_the_tested_ones():
    # CI installs requirements.txt: if this fails, the pins and TESTED_VERSIONS moved apart from the venv.
    assert server_extensions.installed_versions() == TESTED_VERSIONS


@pytest.mark.parametrize("extension", EXTENSIONS, ids=lambda extension: extension.name)
def test_every_private_name_listed_exists_on_the_tested_versions(extension):
    assert server_extensions.missing_names(extension) == []
    assert (extension.setting is None) == (extension.kind == CORRECTNESS)


def test_on_the_tested_versions_every_extension_runs():
    assert server_extensions.choose(settings, installed=TESTED_VERSIONS) == ALL


@pytest.mark.parametrize("name", sorted(PERFORMANCE_NAMES))
def test_each_performance_extension_is_turned_off_by_its_setting(name):
    setting = server_extensions.by_name(name).setting
    with override_settings(**{setting: False}):
        assert server_extensions.choose(settings, installed=TESTED_VERSIONS) == ALL - {name}


def test_on_another_version_performance_extensions_fall_back_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="daphne.server"):
        enabled = server_extensions.choose(settings, installed=OTHER_TWISTED)
    assert enabled == ALL - PERFORMANCE_NAMES
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == len(PERFORMANCE_NAMES)
    assert all("Twisted 27.1.0 (tested: 26.10.0)" in message for message in warnings)


def test_a_performance_extension_whose_name_is_gone_falls_back(monkeypatch, caplog):
    monkeypatch.delattr(abstract.FileDescriptor, "offset")
    with caplog.at_level(logging.WARNING, logger="daphne.server"):
        enabled = server_extensions.choose(settings, installed=TESTED_VERSIONS)
    assert enabled == ALL - {"direct_write"}
    assert "twisted.internet.abstract:FileDescriptor.offset not found" in caplog.text


def test_a_correctness_extension_whose_name_is_gone_stops_the_server(monkeypatch):
    monkeypatch.delattr(Server, "log_action")
    with pytest.raises(ImproperlyConfigured) as refused:
        server_extensions.choose(settings, installed=OTHER_TWISTED)
    message = str(refused.value)
    assert "hidden_tokens" in message and "daphne.server:Server.log_action" in message
    assert "Twisted 27.1.0" in message


def test_the_server_on_another_version_takes_twisteds_own_write_path(monkeypatch, clock):
    server = make_server(monkeypatch, OTHER_TWISTED)
    configure(server, monkeypatch)
    assert serve.FlowGateWebSocketProtocol.send_at_once is False


def test_the_server_on_the_tested_versions_sends_frames_at_once(monkeypatch, clock):
    configure(make_server(monkeypatch, TESTED_VERSIONS), monkeypatch)
    assert serve.FlowGateWebSocketProtocol.send_at_once is True
