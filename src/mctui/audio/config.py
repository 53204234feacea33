"""Audio configuration policies: how a call captures and plays out.

A policy is chosen per call (``CallPreferences``), falling back to the client default, then to
``broadcaster()``. Each call's audio device module is built with its own policy at first use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 960

#: One frame of audio inside mctui: float32, ``(960,)`` mono or ``(960, 2)`` stereo.
Frame = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AudioConfigurationPolicy:
    """What a call's audio path does.

    ``name``: a label for the UI. ``capture_channels`` / ``playout_channels``: 1 (mono) or 2.
    ``voice_processing``: run the voice chain (high-pass, gain control, noise suppression) on the
    microphone. ``capture_on_join``: whether the microphone opens when the call joins; a viewer only
    listens until the user unmutes.
    """

    name: str
    capture_channels: int
    playout_channels: int
    voice_processing: bool
    capture_on_join: bool

    @classmethod
    def broadcaster(cls) -> AudioConfigurationPolicy:
        """Mono voice capture with voice processing, for talking (the default)."""
        return cls("broadcaster", 1, 1, voice_processing=True, capture_on_join=True)

    @classmethod
    def viewer(cls) -> AudioConfigurationPolicy:
        """Listening: processing bypassed, no capture until the user unmutes, stereo playout."""
        return cls("viewer", 1, 2, voice_processing=False, capture_on_join=False)

    @classmethod
    def hifi(cls) -> AudioConfigurationPolicy:
        """Music: stereo both ways, no processing."""
        return cls("hifi", 2, 2, voice_processing=False, capture_on_join=True)
