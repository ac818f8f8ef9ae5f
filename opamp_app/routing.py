"""WebSocket URL routes of the OpAMP endpoint (the plain-HTTP transport shares the paths: urls.py)."""

from django.urls import path

from opamp_app.consumers import OpAMPConsumer

websocket_urlpatterns = [
    path("v1/opamp", OpAMPConsumer.as_asgi()),  # the spec's default path
    path("api/v1/opamp/v1/opamp", OpAMPConsumer.as_asgi()),
]
