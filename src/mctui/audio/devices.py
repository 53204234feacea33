"""Choosing the audio backend from ``ClientOptions.audio_device``.

``"auto"`` uses PortAudio through sounddevice when the library loads and a device exists, and
otherwise falls back to the null device with a one-line notice (never a traceback).
"""

from __future__ import annotations

from pathlib import Path

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


def backend_for(
    backend: str = "auto",
    input_device: int | str | None = None,
    output_device: int | str | None = None,
    input_wav: Path | None = None,
    output_wav: Path | None = None,
) -> AudioBackend:
    """The backend for command-line / config-file choices.

    WAV files win (the mic from ``input_wav``, the speaker to ``output_wav``); otherwise
    ``backend`` picks, and ``"auto"``/``"sounddevice"`` fall back to the null device with a notice
    when PortAudio or the device is missing.
    """
    if input_wav is not None or output_wav is not None or backend == "wav":
        from mctui.audio.wav_backend import WavBackend

        return WavBackend(input_wav, output_wav)
    if backend in ("auto", "sounddevice"):
        from mctui.audio.sounddevice_backend import open_default_sounddevice

        return open_default_sounddevice(input_device, output_device)
    return resolve_backend(backend)
