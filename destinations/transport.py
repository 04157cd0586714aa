"""How a batch leaves: a small interface, one implementation per destination kind.

`Transport.send(url, body, headers)` delivers one signed batch or raises
`DeliveryFailed`. The webhook transport POSTs over HTTPS (HTTP only where
DESTINATIONS_REQUIRE_HTTPS is off) to an address the SSRF guard checked at
this moment, never following redirects; any 2xx is success. An S3 or syslog
transport would be another class in TRANSPORTS, keyed by `Destination.kind`.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Protocol

from django.conf import settings

from .choices import Kind
from .urlguard import Target, UrlRefused, resolve_target


class DeliveryFailed(RuntimeError):
    """The destination did not take the batch; the message is safe to show its admin."""


class Transport(Protocol):
    def send(self, url: str, body: bytes, headers: dict[str, str]) -> None: ...


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address; the Host header stays the URL's host."""

    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the checked address, verified against the URL's host name."""

    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class WebhookTransport:
    def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            target = resolve_target(url)
        except UrlRefused as refused:
            raise DeliveryFailed(f"url refused: {refused}") from None
        timeout = settings.DESTINATIONS_TIMEOUT_SECONDS
        kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
        connection = kind(target, target.addresses[0], timeout)
        try:
            connection.request(
                "POST",
                target.path,
                body=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "User-Agent": "auditlog-destinations/1",
                },
            )
            response = connection.getresponse()
            response.read(4096)
        except (OSError, http.client.HTTPException) as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}"[:300]) from None
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise DeliveryFailed(f"the receiver answered HTTP {response.status}")


TRANSPORTS: dict[str, Transport] = {Kind.WEBHOOK: WebhookTransport()}
