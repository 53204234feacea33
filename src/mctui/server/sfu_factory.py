"""Build the SFU the server was asked for."""

from __future__ import annotations

from mctui.network import NetworkPolicy
from mctui.server.coordinator import NoSfu, SfuBackend


def make_sfu(
    kind: str,
    network: NetworkPolicy | None = None,
    janus: list[str] | None = None,
    janus_admin_key: str | None = None,
) -> SfuBackend:
    if kind == "none":
        return NoSfu()
    if kind == "embedded":
        from mctui.server.embedded_sfu import EmbeddedSfu

        return EmbeddedSfu(network)
    if kind == "janus":
        from mctui.server.janus_sfu import JanusSfu

        return JanusSfu(list(janus or []), janus_admin_key)
    raise ValueError(f"unknown SFU kind {kind!r}")
