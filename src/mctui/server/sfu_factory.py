"""Build the SFU the server was asked for."""

from __future__ import annotations

from mctui.server.coordinator import NoSfu, SfuBackend


def make_sfu(kind: str) -> SfuBackend:
    if kind == "none":
        return NoSfu()
    if kind == "embedded":
        from mctui.server.embedded_sfu import EmbeddedSfu

        return EmbeddedSfu()
    raise ValueError(f"unknown SFU kind {kind!r}")
