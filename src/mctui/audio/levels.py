"""Audio levels in dBFS, vectorised across streams (one row per stream, one 20 ms frame each)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FLOOR_DBFS = -100.0
_EPS = 10.0 ** (FLOOR_DBFS / 20.0)


def rms_dbfs(frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """RMS level of each row in dBFS (full-scale sine = -3.01 dBFS); silence reads FLOOR_DBFS."""
    data = np.atleast_2d(frames).astype(np.float64, copy=False)
    rms = np.sqrt(np.mean(np.square(data), axis=1))
    return np.asarray(20.0 * np.log10(np.maximum(rms, _EPS)))


def peak_dbfs(frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Peak level of each row in dBFS; silence reads FLOOR_DBFS."""
    data = np.atleast_2d(frames)
    peak = np.max(np.abs(data), axis=1).astype(np.float64)
    return np.asarray(20.0 * np.log10(np.maximum(peak, _EPS)))


class SpeakingDetector:
    """Speaking state with hysteresis so a meter does not flicker between words.

    Speaking starts when the level is above ``on_dbfs`` for ``attack`` frames in a row and ends
    after ``release`` frames below ``off_dbfs``.
    """

    def __init__(
        self, on_dbfs: float = -45.0, off_dbfs: float = -55.0, attack: int = 2, release: int = 15
    ) -> None:
        self.on_dbfs = on_dbfs
        self.off_dbfs = off_dbfs
        self.attack = attack
        self.release = release
        self.speaking = False
        self._above = 0
        self._below = 0

    def update(self, level_dbfs: float) -> bool:
        """Feed one frame's RMS level; returns the speaking state after it."""
        if level_dbfs >= self.on_dbfs:
            self._above += 1
            self._below = 0
        elif level_dbfs < self.off_dbfs:
            self._below += 1
            self._above = 0
        else:
            self._above = 0
            self._below = 0
        if not self.speaking and self._above >= self.attack:
            self.speaking = True
        elif self.speaking and self._below >= self.release:
            self.speaking = False
        return self.speaking
