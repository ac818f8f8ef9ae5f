"""ASGI entry point: HTTP through Django, WebSocket (OpAMP) through Channels.

POST /v1/metrics (gateways' own metrics, about 170 requests a second at 5,000 gateways) is answered in front
of Django's middleware by telemetry_app.endpoint, with the same checks and answers as its Django view.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowgate_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from opamp_app.routing import websocket_urlpatterns  # noqa: E402
from telemetry_app import endpoint as telemetry_endpoint  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": telemetry_endpoint.route(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
