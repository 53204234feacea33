"""Choosing the audio backend from ``ClientOptions.audio_device``.

``"auto"`` uses PortAudio through sounddevice when the library loads and a device exists, and
otherwise falls back to the null device with a one-line notice (never a traceback).
"""

from __future__ import annotations

from mctui.audio.backends import AudioBackend, MemoryBackend, NullBackend

BackendSpec = str | AudioBackend


def resolve_backend(spec: BackendSpec) -> AudioBackend:
    """Turn ``"auto" | "null" | "memory"`` or a backend object into a backend."""
    if isinstance(spec, AudioBackend):
        return spec
    if spec == "null":
        return NullBackend()
    if spec == "memory":
        return MemoryBackend()
    if spec == "auto":
        return _auto_backend()
    raise ValueError(f"unknown audio device {spec!r}: use 'auto', 'null', 'memory' or a backend")


def _auto_backend() -> AudioBackend:
    from mctui.audio.sounddevice_backend import open_default_sounddevice

    return open_default_sounddevice()
