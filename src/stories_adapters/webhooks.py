"""The WebhookSender port over HTTP(S), with the standard library.

A webhook URL comes from a client, so calling it is a request made from inside our network
on their behalf: unchecked, `http://169.254.169.254/` or `http://localhost:5432/` would let
a client probe it. So the host is resolved once, every address it resolves to must be
public (unless a setting allows a kind of internal address), and the connection goes to
the checked address, so a second DNS answer cannot differ. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from stories_adapters.metrics import WEBHOOK_POSTS
from stories_core.errors import WebhookRefused

INTERNAL_KINDS = frozenset({"loopback", "link_local", "private"})
USER_AGENT = "stories-webhooks/1"


def internal_kind(address: str) -> str | None:
    """Which kind of internal address this is, or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if not ip.is_global or ip.is_multicast:
        return "private"
    return None


class HttpWebhookSender:
    def __init__(self, timeout_seconds: float, allow: str = "") -> None:
        """`allow`: comma-separated kinds of internal address that may be called
        (loopback, link_local, private); none by default."""
        self._timeout = timeout_seconds
        self._allow = frozenset(kind.strip() for kind in allow.split(",") if kind.strip())
        unknown = self._allow - INTERNAL_KINDS
        if unknown:
            raise ValueError(
                f"unknown address kinds {sorted(unknown)}; expected {sorted(INTERNAL_KINDS)}"
            )

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookRefused(f"{url!r} is not an absolute http or https URL")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        connection = (_PinnedHTTPSConnection if secure else _PinnedConnection)(
            parts.hostname, port, timeout=self._timeout
        )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.address = self._checked_address(parts.hostname, port)
            connection.request("POST", path, body, {**headers, "User-Agent": USER_AGENT})
            status = connection.getresponse().status
        except WebhookRefused:
            WEBHOOK_POSTS.labels("refused").inc()
            raise
        except OSError:  # no answer: refused, timed out, no such host
            WEBHOOK_POSTS.labels("error").inc()
            raise
        finally:
            connection.close()
        WEBHOOK_POSTS.labels(f"{status // 100}xx").inc()
        return status

    def refusal(self, url: str) -> str | None:
        """The WebhookDestinations port: why `url` may not be called, or None."""
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        try:
            self._checked_address(parts.hostname or "", parts.port or (443 if secure else 80))
        except WebhookRefused as refused:
            return f"{refused.message}; webhooks call public addresses only"
        except (OSError, UnicodeError, ValueError):  # unresolvable now: DNS may change
            return None
        return None

    def _checked_address(self, host: str, port: int) -> str:
        """The address to connect to; WebhookRefused if any address of the host is internal
        (a name resolving to both a public and an internal address is refused too)."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            kind = internal_kind(address)
            if kind is not None and kind not in self._allow:
                raise WebhookRefused(f"{host} resolves to {address}, a {kind} address")
        return addresses[0]


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to the address checked beforehand, whatever DNS would say now; the Host
    header (and TLS server name) stay the URL's."""

    address: str

    def _open_socket(self) -> socket.socket:
        return socket.create_connection((self.address, self.port), self.timeout)

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedConnection, http.client.HTTPSConnection):
    def connect(self) -> None:
        self.sock = self._context.wrap_socket(self._open_socket(), server_hostname=self.host)
