"""Where the server can be reached from, and who may open its websockets."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def lan_address() -> str | None:
    """This machine's address on the local network, or None if it has none.

    Connecting a UDP socket sends nothing; it only asks the kernel which interface would
    carry traffic out, which is the address the other devices in the room can reach."""
    for probe in ("192.0.2.1", "10.255.255.255"):  # a documentation address, then a private one
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                address = s.getsockname()[0]
        except OSError:
            continue
        if not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
            return address
    try:
        candidates = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        return None
    return next((a for a in candidates if not ipaddress.ip_address(a).is_loopback), None)


def join_base(request_base: str, served_host: str, port: int, public_url: str | None) -> str:
    """The address to give viewers: the configured one; else the LAN address when the page was
    opened on this machine (localhost) while serving every interface; else the page's own."""
    if public_url:
        return public_url.rstrip("/")
    base = request_base.rstrip("/")
    host = urlsplit(base).hostname or ""
    if host in LOOPBACK_NAMES and served_host in WILDCARD_HOSTS:
        lan = lan_address()
        if lan:
            return f"{urlsplit(base).scheme}://{lan}:{port}"
    return base


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """A browser always sends Origin with a websocket handshake; a page from another site must
    not drive or watch a session (cross-site websocket hijacking). Clients that are not
    browsers send no Origin and are let through: they could forge one anyway."""
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in (a.rstrip("/").lower() for a in allowed):
        return True
    return host is not None and urlsplit(origin).netloc == host.lower()
