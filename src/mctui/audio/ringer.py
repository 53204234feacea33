"""The ring you hear: a two-tone ringing signal synthesised on the output device.

A terminal bell is easy to miss away from the screen; a phone's ring is not. ``Ringer`` makes
the telephone ringing tone a frame at a time, in one of two cadences:

- ``us``: 440 + 480 Hz, 2 s on, 4 s off (the North American ringback);
- ``eu``: 400 + 450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off (the double ring of the UK and
  much of Europe);

at ``volume_db`` (dBFS of the sum), each burst faded in and out over 5 ms so it never clicks.
The session adds it to the speaker mix only (never to any call's microphone); the echo
canceller sees it in the far end like everything else the speaker plays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE, Frame

FADE_S = 0.005


@dataclass(frozen=True)
class Cadence:
    tones_hz: tuple[float, float]
    #: (on, off) pairs in seconds, repeated.
    pattern: tuple[tuple[float, float], ...]

    @property
    def period_s(self) -> float:
        return sum(on + off for on, off in self.pattern)


CADENCES = {
    "us": Cadence((440.0, 480.0), ((2.0, 4.0),)),
    "eu": Cadence((400.0, 450.0), ((0.4, 0.2), (0.4, 2.0))),
}


class Ringer:
    """One ring's signal, from its start; ``frame()`` gives the next 20 ms."""

    def __init__(self, cadence: str = "us", volume_db: float = -12.0) -> None:
        if cadence not in CADENCES:
            raise ValueError(f"unknown ring cadence {cadence!r}: choose {', '.join(CADENCES)}")
        self.cadence = CADENCES[cadence]
        self._amplitude = 10.0 ** (volume_db / 20.0) / 2.0  # two tones: their sum peaks here
        self._sample = 0
        self._period = round(self.cadence.period_s * SAMPLE_RATE)
        self._gate = self._make_gate()

    def _make_gate(self) -> np.ndarray:
        """One period of the on/off envelope, with 5 ms fades at each edge."""
        gate = np.zeros(self._period, dtype=np.float64)
        fade = round(FADE_S * SAMPLE_RATE)
        ramp = np.linspace(0.0, 1.0, fade)
        at = 0
        for on, off in self.cadence.pattern:
            length = round(on * SAMPLE_RATE)
            gate[at : at + length] = 1.0
            gate[at : at + fade] = ramp
            gate[at + length - fade : at + length] = ramp[::-1]
            at += length + round(off * SAMPLE_RATE)
        return gate

    def frame(self) -> Frame:
        """The next 20 ms of the ring (mono)."""
        n = np.arange(self._sample, self._sample + FRAME_SAMPLES)
        t = n / SAMPLE_RATE
        low, high = self.cadence.tones_hz
        tones = np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)
        self._sample += FRAME_SAMPLES
        out: Frame = (tones * self._gate[n % self._period] * self._amplitude).astype(np.float32)
        return out
