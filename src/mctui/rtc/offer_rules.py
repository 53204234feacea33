"""What an SDP offer must hold before aiortc is handed it.

aiortc accepts offers it cannot use and fails later, away from the request: an offer without a
DTLS fingerprint is taken, then a task dies with ``AttributeError`` during the handshake; a
connection address of ``999.1.1.1`` is taken, then the next trickled candidate fails inside
aioice. The SFU checks each offer here first and refuses it with the reason, so a bad offer is
a ``bad_request`` at the offer and nothing is left half-made. Pure functions, as aiortc's own
SDP helpers are.
"""

from __future__ import annotations

import ipaddress

from aiortc import sdp as aiortc_sdp


def check_offer(text: str) -> None:
    """Raise ``ValueError`` saying what is wrong if ``text`` is not an offer a peer connection
    can use: parseable, and each media section with ICE credentials, a DTLS fingerprint and
    addresses (connection line, candidates) that are IP addresses (or a browser's mDNS name)
    and ports in range."""
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever the bad line trips
        raise ValueError(f"not an SDP ({type(exc).__name__})") from None
    if not description.media:
        raise ValueError("no media section")
    _check_address(description.host, "the session's connection line")
    for index, media in enumerate(description.media):
        where = f"media section {index} ({media.kind})"
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise ValueError(f"{where} has no ICE credentials (a=ice-ufrag, a=ice-pwd)")
        if media.dtls is None or not media.dtls.fingerprints:
            raise ValueError(f"{where} has no DTLS fingerprint (a=fingerprint)")
        _check_address(media.host, f"the connection line of {where}")
        _check_address(media.rtcp_host, f"the a=rtcp line of {where}")
        _check_port(media.port, where)
        if media.rtcp_port is not None:
            _check_port(media.rtcp_port, f"the a=rtcp line of {where}")
        for candidate in media.ice_candidates:
            check_candidate(candidate.ip, candidate.port, f"a candidate of {where}")


def check_candidate(ip: str, port: int, where: str = "the candidate") -> None:
    """Raise ``ValueError`` unless ``ip`` is an IP address (or a browser's mDNS ``.local``
    name) and ``port`` a port: what aioice would otherwise fail on deep in its checks."""
    _check_address(ip, where, mdns=True)
    _check_port(port, where)


def _check_address(address: str | None, where: str, *, mdns: bool = False) -> None:
    if address is None or (mdns and address.endswith(".local")):
        return
    try:
        ipaddress.ip_address(address)
    except ValueError:
        shown = address[:64]
        raise ValueError(f"{where} has an address that is not an IP address: {shown!r}") from None


def _check_port(port: int, where: str) -> None:
    if not 0 <= port <= 65535:
        raise ValueError(f"{where} has a port out of range: {port}")
