"""Audio: per-call ADMs, the shared session (device + mixer), backends, levels, configuration."""

from mctui.audio.adm import AudioDeviceModule
from mctui.audio.backends import AudioBackend, MemoryBackend, NullBackend
from mctui.audio.config import AudioConfigurationPolicy
from mctui.audio.session import AudioSession

__all__ = [
    "AudioBackend",
    "AudioConfigurationPolicy",
    "AudioDeviceModule",
    "AudioSession",
    "MemoryBackend",
    "NullBackend",
]
