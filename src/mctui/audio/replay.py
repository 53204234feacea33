"""A replay through the speaker: prepared audio played one device frame at a time, while the
live rooms duck under it (``AudioSession.play_replay``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from mctui.audio.channels import to_stereo
from mctui.audio.config import FRAME_SAMPLES, Frame

#: How far the live rooms duck while a replay plays.
REPLAY_DUCK_DB = -18.0


class ReplayPlayer:
    """``audio`` (mono or stereo, 48 kHz) as 20 ms frames; ``on_end`` when it ends or stops."""

    def __init__(
        self, audio: npt.NDArray[np.float32], on_end: Callable[[], None] | None = None
    ) -> None:
        stereo = to_stereo(audio)
        whole = stereo.shape[0] // FRAME_SAMPLES * FRAME_SAMPLES
        self._audio = stereo[:whole]
        self.frames = whole // FRAME_SAMPLES
        self.position = 0
        self._on_end = on_end
        self.ended = False

    @property
    def progress(self) -> float:
        """How much has played, 0 .. 1."""
        return self.position / self.frames if self.frames else 1.0

    def frame(self) -> Frame | None:
        """The next frame, or None once it has all played (and ``on_end`` ran)."""
        if self.position >= self.frames:
            self.end()
            return None
        begin = self.position * FRAME_SAMPLES
        self.position += 1
        return self._audio[begin : begin + FRAME_SAMPLES]

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            if self._on_end is not None:
                self._on_end()
