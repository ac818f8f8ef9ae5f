"""WebSocket URL routes of the OpAMP endpoint."""

websocket_urlpatterns = []
