"""Which of flowgate_site.serve's changes to Daphne run, and the private names each one relies on.

`python -m flowgate_site.serve` is Daphne with extensions (listed in serve.py's docstring). Some reach
into names Daphne, Autobahn and Twisted do not promise to keep, so each is tied here to the versions it
was tested with:

- Performance extensions only make the server cheaper. Each has a setting to turn it off (for an A/B
  benchmark), and each falls back to Daphne's stock path, with a logged warning, when the installed
  Daphne, Twisted or autobahn is not the tested version or a name it needs is gone.
- Correctness extensions change what clients see (401 refusals, close codes, hidden tokens, body
  limits, the header timeout). They always run; if a name one needs is missing, the server refuses
  to start rather than serve without it. A different version alone does not stop them: their tests
  (named in `tested_by`) are what proves them on a new version.

Names set on instances at run time cannot be looked up before a connection exists; they are listed
in `runtime_names` (documentation, and what the tests pin) while `names` are resolved at startup.
"""

import importlib
import logging
from dataclasses import dataclass
from importlib import metadata

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("daphne.server")

# The versions requirements.txt pins (tests/core/test_server_extensions.py checks they agree).
TESTED_VERSIONS = {"daphne": "4.2.3", "Twisted": "26.10.0", "autobahn": "26.10.2"}

PERFORMANCE = "performance"
CORRECTNESS = "correctness"


@dataclass(frozen=True)
class Extension:
    """One change to Daphne: what it is for, its switch (performance only) and the private names it uses."""

    name: str
    kind: str
    summary: str
    names: tuple[str, ...]  # "module:Object.attribute", resolved at startup
    runtime_names: tuple[str, ...] = ()  # set on instances at run time; pinned by the tests
    setting: str | None = None  # the settings flag that turns a performance extension off
    tested_by: tuple[str, ...] = ()


EXTENSIONS = (
    Extension(
        name="direct_write",
        kind=PERFORMANCE,
        summary="WebSocket frames go to the socket at once when nothing is queued (flowgate_site.direct_write)",
        setting="FLOWGATE_DIRECT_WRITE",
        names=(
            "twisted.internet.abstract:FileDescriptor.dataBuffer",
            "twisted.internet.abstract:FileDescriptor.offset",
            "twisted.internet.abstract:FileDescriptor.disconnecting",
            "twisted.internet.tcp:Connection.TLS",
            "twisted.internet.tcp:Connection.connected",
        ),
        runtime_names=(
            "twisted.internet.abstract:FileDescriptor._tempDataLen",
            "twisted.internet.tcp:Connection.socket",
        ),
        tested_by=("tests/core/test_direct_write.py",),
    ),
    Extension(
        name="websocket_limits",
        kind=CORRECTNESS,
        summary="WebSocket message/frame limits of FLOWGATE_OPAMP_MAX_MESSAGE_BYTES, 1009 close over them",
        names=(
            "daphne.cli:CommandLineInterface.server_class",
            "daphne.server:Server.run",
        ),
        runtime_names=(
            "daphne.cli:CommandLineInterface.parser (websocket_max_message_size, websocket_max_frame_size)",
            "daphne.server:Server.ws_factory (set by run() before ready_callable)",
        ),
        tested_by=("tests/opamp_app/test_websocket_limits_live.py",),
    ),
    Extension(
        name="denial_response",
        kind=CORRECTNESS,
        summary="the ASGI websocket.http.response extension: a refused handshake gets the application's 401",
        names=(
            "daphne.ws_protocol:WebSocketProtocol.handle_reply",
            "daphne.ws_protocol:WebSocketProtocol.serverReject",
            "daphne.ws_protocol:WebSocketProtocol.STATE_CONNECTING",
            "daphne.ws_protocol:WebSocketProtocol.sendHttpErrorResponse",
            "daphne.ws_protocol:WebSocketProtocol.sendData",
            "daphne.server:Server.protocol_disconnected",
            "daphne.server:Server.create_application",
        ),
        runtime_names=(
            "daphne.ws_protocol:WebSocketProtocol.handshake_deferred",
            "daphne.ws_protocol:WebSocketProtocol.client_addr",
            "daphne.ws_protocol:WebSocketProtocol.request",
        ),
        tested_by=("tests/opamp_app/test_websocket_auth_live.py",),
    ),
    Extension(
        name="close_codes",
        kind=CORRECTNESS,
        summary="a consumer may close with 1008 and 1009 (Daphne would turn them into 1011)",
        names=(
            "daphne.ws_protocol:WebSocketProtocol.serverClose",
            "daphne.ws_protocol:WebSocketProtocol.sendCloseFrame",
        ),
        tested_by=("tests/opamp_app/test_websocket_limits_live.py", "tests/opamp_app/test_websocket_live.py"),
    ),
    Extension(
        name="hidden_tokens",
        kind=CORRECTNESS,
        summary="the access log shows token= query parameters as [hidden]",
        names=("daphne.server:Server.log_action",),
        runtime_names=("the 'path' key of the details Daphne passes to log_action",),
        tested_by=("tests/opamp_app/test_websocket_auth_live.py",),
    ),
    Extension(
        name="clean_shutdown",
        kind=CORRECTNESS,
        summary="shutdown cancels running applications and skips ended ones; a close reported twice is ignored",
        names=(
            "daphne.server:Server.kill_all_applications",
            "daphne.server:Server.protocol_disconnected",
        ),
        runtime_names=(
            "daphne.server:Server.connections (protocol -> {'connected', 'disconnected', 'application_instance'})",
        ),
        tested_by=("tests/core/test_reaper.py", "tests/core/test_server_live.py"),
    ),
    Extension(
        name="http_limits",
        kind=CORRECTNESS,
        summary="request bodies over their path's limit answered 413 as they arrive; request heads timed (408)",
        names=(
            "twisted.web.http:HTTPChannel.allHeadersReceived",
            "twisted.web.http:HTTPChannel.allContentReceived",
            "twisted.web.http:HTTPChannel.rawDataReceived",
            "twisted.web.http:HTTPChannel.requestDone",
            "twisted.web.http:HTTPChannel.timeoutConnection",
            "twisted.web.http:HTTPChannel.length",
            "twisted.web.http:Request.handleContentChunk",
            "daphne.http_protocol:HTTPFactory.buildProtocol",
            "daphne.http_protocol:HTTPFactory.acceptableProtocols",
        ),
        runtime_names=(
            "twisted.web.http:HTTPChannel._command",
            "twisted.web.http:HTTPChannel._path",
            "twisted.web.http:HTTPChannel.requests",
            "daphne.server:Server.http_factory (set by run() before ready_callable)",
        ),
        tested_by=("tests/core/test_http_channel.py", "tests/core/test_body_limits_live.py"),
    ),
)


def by_name(name):
    return next(extension for extension in EXTENSIONS if extension.name == name)


def installed_versions():
    """{distribution: installed version} of the distributions in TESTED_VERSIONS."""
    return {name: metadata.version(name) for name in TESTED_VERSIONS}


def version_mismatches(installed):
    """["Twisted 27.1.0 (tested: 26.10.0)", …] for each installed version that is not the tested one."""
    return [
        f"{name} {installed.get(name)} (tested: {tested})"
        for name, tested in TESTED_VERSIONS.items()
        if installed.get(name) != tested
    ]


def resolves(reference):
    """True if "module:Object.attribute" names something that exists now."""
    module_name, _, path = reference.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError:
        return False
    for part in path.split("."):
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


def missing_names(extension):
    return [reference for reference in extension.names if not resolves(reference)]


def choose(settings, installed=None):
    """The names of the extensions this server runs; raises ImproperlyConfigured if a correctness one cannot.

    Logs why each performance extension is off, and a warning when versions differ from the tested ones.
    """
    installed = installed_versions() if installed is None else installed
    mismatches = version_mismatches(installed)
    enabled = set()
    for extension in EXTENSIONS:
        missing = missing_names(extension)
        if extension.kind == CORRECTNESS:
            if missing:
                raise ImproperlyConfigured(
                    f"flowgate_site.serve cannot provide {extension.name} ({extension.summary}): "
                    f"{', '.join(missing)} not found in the installed {', '.join(mismatches) or 'versions'}"
                )
            enabled.add(extension.name)
        elif not getattr(settings, extension.setting):
            logger.info("Server extension %s off (%s=false)", extension.name, extension.setting)
        elif mismatches or missing:
            reason = "; ".join(mismatches) if mismatches else f"{', '.join(missing)} not found"
            logger.warning(
                "Server extension %s off, Daphne's stock path instead: %s. It relies on private names of "
                "the tested versions (docs/architecture.md, Server extensions).",
                extension.name,
                reason,
            )
        else:
            enabled.add(extension.name)
    logger.info("Server extensions: %s", ", ".join(sorted(enabled)))
    return frozenset(enabled)
