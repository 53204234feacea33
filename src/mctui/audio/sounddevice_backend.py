"""PortAudio (sounddevice) backend: placeholder until the audio issue lands the real streams.

``open_default_sounddevice`` already does the part users see: it loads PortAudio, checks that a
default input and output exist, and otherwise returns the null backend with a one-line reason.
"""

from __future__ import annotations

from mctui.audio.backends import AudioBackend, NullBackend


def open_default_sounddevice() -> AudioBackend:
    try:
        import sounddevice as sd
    except OSError as exc:
        return NullBackend(notice=f"PortAudio is not available ({exc}); using the null device")
    try:
        sd.query_devices(kind="output")
        sd.query_devices(kind="input")
    except Exception as exc:  # sounddevice raises PortAudioError / ValueError here
        return NullBackend(notice=f"no audio device ({exc}); using the null device")
    return NullBackend(notice="PortAudio streams are not wired yet; using the null device")
