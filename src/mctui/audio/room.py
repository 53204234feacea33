"""A room between the speaker and the microphone: the echo test bed's audio device.

``EchoRoomBackend`` is a clocked test device whose microphone hears a near-end talker plus what
its own speaker played, through ``room_response``: the direct path after a delay (40-150 ms,
-6 to -12 dB, as a laptop's speakers and mic in a room) and an exponentially decaying tail of
reflections (about 150 ms to -60 dB). The echo canceller never sees the response; it has to
find it, as on a laptop. Tests and ``benchmarks/echo.py`` read what the mic heard (``echo``,
``near``) and move the echo path mid-call (``set_room``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mctui.audio.backends import ClockedBackend
from mctui.audio.channels import to_mono
from mctui.audio.config import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, Frame

#: How long the reflections take to fall 60 dB.
TAIL_S = 0.15


def room_response(
    delay_s: float, level_db: float, tail_s: float = TAIL_S, seed: int = 0
) -> npt.NDArray[np.float32]:
    """An impulse response: ``level_db`` at ``delay_s``, then diffuse reflections that decay
    by 60 dB over ``tail_s`` (together about as strong as the direct path, as in a room)."""
    start = round(delay_s * SAMPLE_RATE)
    length = int(tail_s * SAMPLE_RATE)
    direct = 10.0 ** (level_db / 20.0)
    decay = np.exp(-np.arange(length) * (np.log(1000.0) / length))
    reflections = np.random.default_rng(seed).standard_normal(length) * decay * direct * 0.025
    response = np.zeros(start + 1 + length, dtype=np.float32)
    response[start] = direct
    response[start + 1 :] = reflections
    return response


class EchoRoomBackend(ClockedBackend):
    """A clocked device whose mic is ``near`` (played once, then silence) plus the room's echo
    of the speaker. The speaker frame returned now plays during the next frame, so its echo
    reaches the mic ``delay_s`` after that."""

    name = "echo-room"

    def __init__(
        self, near: Frame | None = None, delay_s: float = 0.08, level_db: float = -9.0
    ) -> None:
        super().__init__()
        self._near = np.zeros(0, dtype=np.float32) if near is None else to_mono(near)
        self._position = 0
        self._pending = np.zeros(0, dtype=np.float32)  # echo still to reach the mic
        self.set_room(delay_s, level_db)
        #: Per device frame: what the mic heard of the talker, and of the echo.
        self.near: list[Frame] = []
        self.echo: list[Frame] = []

    def set_room(self, delay_s: float, level_db: float) -> None:
        """Move the mic or the speaker: the echo path changes from the next frame on."""
        self._response = room_response(delay_s, level_db)
        self._fft_size = 1 << int(np.ceil(np.log2(self._response.size + FRAME_SAMPLES)))
        self._response_fft = np.fft.rfft(self._response, self._fft_size)

    def set_near(self, near: Frame) -> None:
        """A new near-end signal, from its start."""
        self._near = to_mono(near)
        self._position = 0

    def read_input(self) -> Frame:
        near = np.zeros(FRAME_SAMPLES, dtype=np.float32)
        piece = self._near[self._position : self._position + FRAME_SAMPLES]
        near[: piece.size] = piece
        self._position += FRAME_SAMPLES
        echo = np.zeros(FRAME_SAMPLES, dtype=np.float32)
        arrived = self._pending[:FRAME_SAMPLES]
        echo[: arrived.size] = arrived
        self._pending = self._pending[FRAME_SAMPLES:]
        self.near.append(near)
        self.echo.append(echo)
        mic: Frame = np.clip(near + echo, -1.0, 1.0)
        return mic

    def write_output(self, frame: Frame) -> None:
        mono = to_mono(frame).astype(np.float64)
        size = self._response.size + FRAME_SAMPLES - 1
        heard = np.fft.irfft(np.fft.rfft(mono, self._fft_size) * self._response_fft)[:size]
        if self._pending.size < size:
            self._pending = np.concatenate(
                [self._pending, np.zeros(size - self._pending.size, dtype=np.float32)]
            )
        self._pending[:size] += heard.astype(np.float32)

    def echo_delay_ms(self) -> float:
        return float(FRAME_MS)  # the device's own latency: one frame; the room is to be found
