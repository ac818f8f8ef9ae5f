"""Sections that apps above gateways_app add to the gateway detail page.

gateways_app may not import the apps that stand on it (docs/architecture.md, "Layers"), yet the gateway
page shows what they know about a gateway (its throughput: telemetry_app). Such an app registers a
function here from its AppConfig.ready(): `render(request, gateway) -> str`, the section's HTML, rendered
from the app's own template (autoescaped like any template). The page renders every registered section
in registration order, in the same request: no JavaScript and no second round trip. Until an app
registers, the page simply has no such section.
"""

from django.utils.safestring import mark_safe

_panels: dict = {}


def register(name: str, render) -> None:
    """Add (or replace, when ready() runs again) the section `name`."""
    _panels[name] = render


def render_all(request, gateway) -> list:
    """The registered sections' HTML for this gateway, in registration order."""
    # Each section comes out of render_to_string with Django's autoescaping: safe to embed as is.
    return [mark_safe(render(request, gateway)) for render in _panels.values()]  # noqa: S308
