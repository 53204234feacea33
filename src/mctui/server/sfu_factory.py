"""Build the SFU the server was asked for."""

from __future__ import annotations

from mctui.network import NetworkPolicy
from mctui.server.coordinator import NoSfu, SfuBackend


def make_sfu(kind: str, network: NetworkPolicy | None = None) -> SfuBackend:
    if kind == "none":
        return NoSfu()
    if kind == "embedded":
        from mctui.server.embedded_sfu import EmbeddedSfu

        return EmbeddedSfu(network)
    raise ValueError(f"unknown SFU kind {kind!r}")
