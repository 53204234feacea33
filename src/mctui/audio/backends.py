"""Audio device backends: where microphone frames come from and the speaker mix goes.

A backend drives the shared ``AudioSession`` with its clock: every 20 ms it hands one microphone
frame to ``process`` and receives the speaker frame back. ``null`` and ``memory`` run on an asyncio
timer paced by the loop clock (deadline based, so it does not drift); the sounddevice backend is
paced by PortAudio's own callback.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable

import numpy as np

from mctui.audio.config import FRAME_MS, FRAME_SAMPLES, Frame

ProcessFn = Callable[[Frame], Frame]


class AudioBackend(ABC):
    """A device: started with the session's ``process`` function, closed when the client ends."""

    name: str = "backend"
    notice: str | None = None
    #: What the device plays: 2 (stereo; rooms can be panned) or 1 (mono: no pan).
    output_channels: int = 2
    #: Set by the session: called (on the loop) when the device fails mid-call.
    on_failure: Callable[[str], None] | None = None
    #: Set by the session: called (on the loop) when the device loses something the user asked
    #: for but audio goes on (a recording that could not be written).
    on_error: Callable[[str], None] | None = None

    @abstractmethod
    async def start(self, process: ProcessFn) -> None: ...

    def echo_delay_ms(self) -> float:
        """From a speaker frame returned by ``process`` to the mic frame that hears it played:
        what the echo canceller is told (it also finds the delay by itself, within limits)."""
        return 0.0

    @abstractmethod
    async def close(self) -> None: ...

    def detach(self) -> None:  # noqa: B027 - optional: backends that can hand over do
        """Stop calling ``process`` (another device took over the session); ``close`` follows."""


class ClockedBackend(AudioBackend):
    """A backend whose clock is an asyncio task that ticks every 20 ms of loop time."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._process: ProcessFn | None = None
        self.frames_processed = 0

    async def start(self, process: ProcessFn) -> None:
        if self._task is not None:
            return
        self._process = process
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"audio-{self.name}")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = FRAME_MS / 1000.0
        deadline = loop.time()
        while True:
            self.step()
            deadline += period
            delay = deadline - loop.time()
            if delay < -0.2:  # the loop stalled: skip ahead instead of bursting
                deadline = loop.time()
                delay = 0.0
            await asyncio.sleep(max(delay, 0.0))

    def detach(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def step(self, frames: int = 1) -> None:
        """Process ``frames`` device frames now (the clock task calls this; tests may too)."""
        assert self._process is not None, "backend not started"
        for _ in range(frames):
            speaker = self._process(self.read_input())
            self.write_output(speaker)
            self.frames_processed += 1

    def read_input(self) -> Frame:
        return np.zeros(FRAME_SAMPLES, dtype=np.float32)

    def write_output(self, frame: Frame) -> None:
        return None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class NullBackend(ClockedBackend):
    """Silence in, nothing out, on a real-time clock: calls work with no sound hardware."""

    name = "null"

    def __init__(self, notice: str | None = None) -> None:
        super().__init__()
        self.notice = notice


class MemoryBackend(ClockedBackend):
    """For tests and headless use: the mic reads from an array, the speaker mix is kept in memory.

    ``input_signal`` loops; ``output`` keeps the last ``keep_seconds`` of the speaker mix.
    """

    name = "memory"

    def __init__(self, input_signal: Frame | None = None, keep_seconds: float = 30.0) -> None:
        super().__init__()
        self._input = np.zeros(0, dtype=np.float32)
        self._input_pos = 0
        if input_signal is not None:
            self.set_input(input_signal)
        self._output: deque[Frame] = deque(maxlen=int(keep_seconds * 1000 / FRAME_MS))
        self.output_frames_total = 0

    def set_input(self, signal: Frame) -> None:
        """Mono ``(n,)`` or stereo ``(n, 2)`` samples, looped."""
        data = np.asarray(signal, dtype=np.float32)
        self._input = data if data.ndim == 2 else data.reshape(-1)
        self._input_pos = 0

    def read_input(self) -> Frame:
        length = self._input.shape[0]
        if length == 0:
            return np.zeros(FRAME_SAMPLES, dtype=np.float32)
        idx = (np.arange(FRAME_SAMPLES) + self._input_pos) % length
        self._input_pos = (self._input_pos + FRAME_SAMPLES) % length
        return self._input[idx]

    def write_output(self, frame: Frame) -> None:
        self._output.append(np.array(frame, dtype=np.float32, copy=True))
        self.output_frames_total += 1

    def output_stereo(self, last_seconds: float | None = None) -> Frame:
        """The speaker mix kept so far (or its last ``last_seconds``) as ``(n, 2)``."""
        frames = list(self._output)
        if last_seconds is not None:
            frames = frames[-max(1, int(last_seconds * 1000 / FRAME_MS)) :]
        if not frames:
            return np.zeros((0, 2), dtype=np.float32)
        return np.concatenate([f if f.ndim == 2 else np.repeat(f[:, None], 2, 1) for f in frames])

    def output(self, last_seconds: float | None = None) -> Frame:
        """The speaker mix downmixed to mono (what a single speaker would play)."""
        stereo = self.output_stereo(last_seconds)
        mono: Frame = stereo.mean(axis=1, dtype=np.float32)
        return mono

    def clear_output(self) -> None:
        self._output.clear()
