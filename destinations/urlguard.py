"""The SSRF guard: which destination URLs are allowed, checked twice.

At registration (`checked_url`) the URL must be https (unless
DESTINATIONS_REQUIRE_HTTPS is off: the local stack), carry no credentials,
and its host must resolve only to public addresses (unless
DESTINATIONS_ALLOW_PRIVATE: the local stack). At delivery (`resolve_target`)
the host is resolved again and every address checked, and the transport
connects to the address that was checked, so a DNS answer that changed since
(rebinding) cannot point a delivery at the inside. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class UrlRefused(ValueError):
    """Why a destination URL may not be used (safe to show to the tenant admin)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (the TLS server name and Host header)
    port: int
    path: str  # path and query, at least "/"
    addresses: tuple[str, ...]  # the checked IP addresses, in resolver order


def _address_refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UrlRefused(f"the host {host!r} does not resolve ({error}).") from None
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"not a valid URL ({error}).") from None
    scheme = parts.scheme.lower()
    allowed = ("https",) if settings.DESTINATIONS_REQUIRE_HTTPS else ("https", "http")
    if scheme not in allowed:
        raise UrlRefused(f"the scheme must be {' or '.join(allowed)}, not {scheme or 'none'!r}.")
    if not parts.hostname:
        raise UrlRefused("the URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials in the URL are not allowed: the signature authenticates.")
    if parts.fragment:
        raise UrlRefused("a fragment (#...) is not allowed.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def resolve_target(url: str) -> Target:
    """The URL's parts and its host's addresses, every one of them allowed; else UrlRefused."""
    scheme, host, port, path = _split(url)
    addresses = _resolve(host, port)
    if not addresses:
        raise UrlRefused(f"the host {host!r} does not resolve.")
    if not settings.DESTINATIONS_ALLOW_PRIVATE:
        refused = [address for address in addresses if _address_refused(address)]
        if refused:
            raise UrlRefused(
                f"the host {host!r} resolves to {refused[0]}, a loopback, private, "
                "link-local or otherwise non-public address."
            )
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


def checked_url(url: str) -> str:
    """The URL when it may be registered; UrlRefused naming why not."""
    if len(url) > 2000:
        raise UrlRefused("longer than 2000 characters.")
    resolve_target(url)
    return url
