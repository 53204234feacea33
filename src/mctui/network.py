"""Which addresses a peer connection offers and which ICE servers it asks (DESIGN.md section 7).

One ``NetworkPolicy`` per connection, never a process-wide setting: the server's SFU offers its
``--host`` address (or ``--announce`` in its place, behind a 1:1 NAT), a client offers the address
it reaches the server from (127.0.0.1 for a server on loopback), and each asks the STUN/TURN
servers it was given. With no flags everything stays on 127.0.0.1 with no ICE server.

Standard library only: the command line and the config file parse these before the media stack
is imported.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import parse_qs

LOOPBACK = "127.0.0.1"
_SCHEMES = {"stun": 3478, "stuns": 5349, "turn": 3478, "turns": 5349}


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server, as WebRTC writes it (``stun:host:port``,
    ``turn:host:port?transport=tcp``)."""

    url: str
    username: str | None = None
    credential: str | None = None

    @property
    def is_turn(self) -> bool:
        return self.url.startswith("turn")


def parse_ice_server(
    url: str, username: str | None = None, credential: str | None = None
) -> IceServer:
    """Check one ICE server URL; a ``ValueError`` says what is wrong with it."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in _SCHEMES:
        raise ValueError(
            f"ICE server {url!r}: the URL must start with stun:, stuns:, turn: or turns:"
        )
    where, _, query = rest.partition("?")
    host, _, port = where.rpartition(":") if where.count(":") == 1 else (where, "", "")
    if not host:
        raise ValueError(f"ICE server {url!r}: no host")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"ICE server {url!r}: the port must be 1-65535")
    if query:
        options = parse_qs(query)
        if set(options) - {"transport"} or options.get("transport", ["udp"])[0] not in (
            "udp",
            "tcp",
        ):
            raise ValueError(f"ICE server {url!r}: only ?transport=udp or ?transport=tcp")
    if scheme.startswith("turn") and not (username and credential):
        raise ValueError(f"ICE server {url!r}: a TURN server needs a username and a credential")
    return IceServer(url, username, credential)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def route_source(host: str, port: int = 9) -> str:
    """The local address this machine reaches ``host`` from (a UDP connect sends nothing)."""
    if is_loopback(host):
        return LOOPBACK
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect(address)
        return str(probe.getsockname()[0])


@dataclass(frozen=True)
class NetworkPolicy:
    """What one peer connection offers: its host addresses (``()`` means every interface
    address, aioice's own choice), the address it advertises in their place, its ICE servers."""

    host_addresses: tuple[str, ...] = (LOOPBACK,)
    announce: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    #: Send the STUN candidates as they come (trickle ICE) instead of before the offer.
    trickle: bool = True

    @property
    def trickles(self) -> bool:
        """Whether there is anything to trickle: a STUN server to wait for."""
        return self.trickle and any(not server.is_turn for server in self.ice_servers)

    @classmethod
    def for_server(
        cls, host: str, announce: str | None = None, ice_servers: tuple[IceServer, ...] = ()
    ) -> NetworkPolicy:
        """The SFU's media: on the address signalling binds (``0.0.0.0``: every interface)."""
        if host in ("0.0.0.0", "::", ""):
            return cls((), announce, ice_servers)
        if host == "localhost":
            host = LOOPBACK
        return cls((host,), announce, ice_servers)

    @classmethod
    def toward(
        cls, server_host: str, ice_servers: tuple[IceServer, ...] = (), trickle: bool = True
    ) -> NetworkPolicy:
        """A client's media: the interface that reaches the server (loopback for loopback)."""
        try:
            addresses: tuple[str, ...] = (route_source(server_host),)
        except OSError:
            addresses = ()  # no route now: let ICE try every interface
        return cls(addresses, None, ice_servers, trickle)
