"""Which media transport serves a call: chosen from the ``SfuInfo`` the coordinator returned.

Its own module so the interface (``rtc.transport``) and the implementations never import each
other: the implementations import the interface, and only this module knows them all.
"""

from __future__ import annotations

from mctui import protocol as p
from mctui.client_media.transport import MediaTransport, NoMediaTransport
from mctui.network import NetworkPolicy


def create_transport(sfu: p.SfuInfo, network: NetworkPolicy) -> MediaTransport:
    """The transport for the SFU the coordinator assigned, its connections on ``network``."""
    if sfu.kind == "none":
        return NoMediaTransport()
    if sfu.kind == "embedded":
        from mctui.client_media.embedded_client import EmbeddedSfuTransport

        return EmbeddedSfuTransport(network)
    if sfu.kind == "janus":
        from mctui.client_media.janus_client import JanusTransport

        return JanusTransport(network)
    raise NotImplementedError(f"SFU kind {sfu.kind!r} is not supported yet")
