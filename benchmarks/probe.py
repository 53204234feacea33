"""Memory backends that timestamp frames, for frame-level latency measurements."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from mctui.audio.backends import Frame, MemoryBackend
from mctui.audio.channels import to_mono

_N = 960
_T = np.arange(_N) / 48_000


def tone_power_db(frame: Frame, hz: float) -> float:
    """Level (dB re full-scale sine) of ``hz`` in one 20 ms frame (a single DFT bin)."""
    frame = to_mono(frame)
    window = np.hanning(frame.size)
    basis = np.exp(-2j * np.pi * hz * _T[: frame.size])
    amplitude = 2 * abs(np.sum(frame * window * basis)) / window.sum()
    return float(20 * np.log10(max(amplitude, 1e-9)))


class ProbeBackend(MemoryBackend):
    """Calls ``on_output(loop_time, frame)`` / ``on_input(loop_time, frame)`` for every frame."""

    def __init__(self, signal: Frame | None = None) -> None:
        super().__init__(signal, keep_seconds=2.0)
        self.on_output: Callable[[float, Frame], None] | None = None
        self.on_input: Callable[[float, Frame], None] | None = None
        self.lateness: list[float] = []

    def read_input(self) -> Frame:
        frame = super().read_input()
        if self.on_input is not None:
            self.on_input(asyncio.get_running_loop().time(), frame)
        return frame

    def write_output(self, frame: Frame) -> None:
        super().write_output(frame)
        if self.on_output is not None:
            self.on_output(asyncio.get_running_loop().time(), frame)


CLICK_PERIOD = 24_000  # a click every 0.5 s
FRAME_S = 0.020


def click_track() -> Frame:
    """Half a second: a 10 ms 1 kHz burst at the start of the first frame, then silence."""
    signal = np.zeros(CLICK_PERIOD, dtype=np.float32)
    burst = np.sin(2 * np.pi * 1000 * np.arange(480) / 48_000) * np.hanning(480)
    signal[:480] = 0.8 * burst
    return signal


class ClickTimer:
    """Mouth-to-ear of clicks: hook ``on_input`` to the talker's device and ``on_output`` to
    the listener's. Mouth is the start of the capture frame that carries a click (one frame
    before the tick that hands it over); ear is the end of the first playout frame that carries
    it (one frame after the tick that writes it)."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.heard: list[float] = []
        self._quiet = True

    def on_input(self, now: float, frame: Frame) -> None:
        if np.max(np.abs(frame)) > 0.1:
            self.sent.append(now - FRAME_S)

    def on_output(self, now: float, frame: Frame) -> None:
        loud = bool(np.max(np.abs(frame)) > 0.05)
        if loud and self._quiet:
            self.heard.append(now + FRAME_S)
        self._quiet = not loud

    def delays_ms(self) -> list[float]:
        """One delay per click heard within 450 ms (before the next click)."""
        delays = []
        for t_sent in self.sent:
            later = [t for t in self.heard if t_sent < t < t_sent + 0.45]
            if later:
                delays.append((later[0] - t_sent) * 1000)
        return delays
