"""WebSocket routes: the live event stream."""

from django.urls import path

from .consumers import EventStreamConsumer

websocket_urlpatterns = [
    path("api/v1/logs/stream", EventStreamConsumer.as_asgi()),
]
