"""Where the server can be reached from, and who may open its websockets."""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .settings import Settings

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


def host_name(host_header: str | None) -> str | None:
    """The name or address in a Host header, lower-cased, without port, brackets or a final dot."""
    if not host_header:
        return None
    try:
        name = urlsplit(f"//{host_header}").hostname
    except ValueError:  # a malformed IPv6 literal
        return None
    name = (name or "").rstrip(".")
    return name or None


def is_own_address(address: str) -> bool:
    """Whether `address` is one of this machine's. Binding succeeds only for an address an
    interface here holds, which answers exactly, for every interface, without asking DNS. (A
    broadcast or multicast address binds too; harmless, as no address can be rebound.)"""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))
    except OSError:
        return False
    return True


def served_names(settings: Settings) -> set[str]:
    """The host names (not addresses) this server answers to: the configured host, the hosts of
    `public_url` and of the allowed origins, and, serving every interface, this machine's own name."""
    names = {"localhost", settings.host.lower()}
    for url in (settings.public_url, *settings.allowed_origins):
        name = host_name(urlsplit(url or "").netloc)
        if name:
            names.add(name)
    if settings.host in WILDCARD_HOSTS:
        machine = socket.gethostname().lower()
        names |= {machine, f"{machine}.local"}  # how phones reach a laptop by name (mDNS)
    return names


def host_served(host_header: str | None, settings: Settings) -> bool:
    """Whether a request's Host is one this server answers to.

    DNS rebinding: a page at evil.example:8000 whose name the attacker re-points at this machine
    is, to the browser, the same origin as evil.example, so its Origin matches its Host and it may
    read every answer. Its Host still says evil.example, which this server never serves. An
    address cannot be rebound (the browser connects to exactly that address), so any of this
    machine's own addresses is fine when serving every interface; names must be ones we know."""
    name = host_name(host_header)
    if name is None:
        return host_header is None  # no Host at all is not a browser; a mangled one is refused
    if name in served_names(settings):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return ip.is_loopback or (settings.host in WILDCARD_HOSTS and is_own_address(name))


def handshake_refusal(origin: str | None, host: str | None, settings: Settings) -> str | None:
    """Why a websocket handshake is refused, or None. Only browsers send Origin, and only browsers
    can be turned against the server by a page, so Host is checked for them: other clients
    choose their own headers anyway."""
    if origin is None:
        return None
    if not host_served(host, settings):
        return (f"this server does not answer to the address {str(host)[:100]!r}; open it at one of its own "
                "addresses (localhost, this machine's network address, or its public_url)")
    if not origin_allowed(origin, host, settings.allowed_origins):
        return (f"pages from {origin[:100]} may not open this server's sessions; the server allows its own pages "
                "and the origins in its allowed_origins setting")
    return None
