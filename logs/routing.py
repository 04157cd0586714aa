"""WebSocket routes (the live stream is added by the stream work)."""

websocket_urlpatterns: list = []
