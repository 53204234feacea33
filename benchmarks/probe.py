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
