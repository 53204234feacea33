"""The microphone's voice processing: WebRTC's audio processing module (APM).

Echo cancellation (AEC3), noise suppression, a high-pass filter and automatic gain control
come from WebRTC's own APM, as browsers run it, through the ``livekit`` package's prebuilt
build (``livekit.rtc.AudioProcessingModule``): a maintained WebRTC build with Linux, macOS and
Windows wheels, 10 ms frames and the three calls an echo canceller needs. One APM runs the
stages in WebRTC's order: high-pass, echo canceller, suppressor, gain control.

RNNoise, the suppressor before this, is gone, by measurement (espeak-ng speech, this module's
chain, ``benchmarks/echo.py``): it removed more steady noise (spectral SNR 13-20 dB against
WebRTC's 8-17 dB on white, brown and fan noise at 0-15 dB SNR), but in double talk it took the
near talker for residual echo (envelope correlation with the no-echo run 0.43 against 0.88 with
WebRTC's suppressor, level -4.2 dB against -1.1 dB), and it cost 1.3 ms of CPU per 20 ms frame
on top of the APM's 0.3 ms. Its package also pulled in matplotlib.

The session feeds the APM the far end (``render``: exactly what goes to the output device,
every device frame, whether or not anyone talks) and the near end (``capture``: the
microphone), and tells it the delay between the two from the device's reported latencies (AEC3
also finds the echo path by itself: the test bed's rooms put it 60-170 ms away). Device frames
are 20 ms; the APM takes 10 ms, so each device frame is two calls of each kind.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from mctui.audio.channels import to_mono
from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE, Frame

if TYPE_CHECKING:
    import numpy.typing as npt

#: The APM's frame: 10 ms.
APM_SAMPLES = SAMPLE_RATE // 100
#: Echo paths the canceller is told about when the device reports no latency.
DEFAULT_DELAY_MS = 40


class ApmUnavailableError(RuntimeError):
    """The ``livekit`` package (WebRTC's APM) cannot be loaded on this machine."""


def _load() -> Any:
    try:
        from livekit import rtc
    except (ImportError, OSError) as exc:  # no wheel for this platform, or a broken one
        raise ApmUnavailableError(f"WebRTC's audio processing is not available: {exc}") from exc
    return rtc


def processing_summary(echo_cancellation: bool) -> str:
    """What cleans the mic, in a line for ``mctui devices``: the profiles, the APM's version
    and whether the echo canceller is on by the config."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        _load()
        build = f"WebRTC's APM (livekit {version('livekit')})"
    except (ApmUnavailableError, PackageNotFoundError) as exc:
        return f"Voice processing: unavailable ({exc}); the mic is sent as it is."
    canceller = "on" if echo_cancellation else "off ([audio] echo_cancellation)"
    return (
        f"Voice processing (broadcaster profile): {build}, echo cancellation {canceller}, "
        "noise suppression, gain control; hifi and viewer send the mic unprocessed."
    )


class _Pcm:
    """One reusable 10 ms ``AudioFrame`` and an int16 view of its buffer (the APM works in
    place on it, so nothing is allocated per frame)."""

    def __init__(self, rtc: Any) -> None:
        self.frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, APM_SAMPLES)
        self.samples: npt.NDArray[np.int16] = np.frombuffer(self.frame.data, dtype=np.int16)

    def load(self, mono: Frame) -> None:
        self.samples[:] = np.clip(mono * np.float32(32768.0), -32768.0, 32767.0)

    def read(self) -> Frame:
        out: Frame = self.samples.astype(np.float32) / np.float32(32768.0)
        return out


class VoiceProcessor:
    """One client's voice processing: every call that holds the mic with voice processing
    gets its output (the mic is one device; it is cleaned once).

    ``echo_cancellation`` off (a headset) keeps the suppressor, the gain control and the
    high-pass; tests turn the others off to measure the canceller alone. ``cpu_s`` is the time
    spent here, for the benchmarks and the status line.
    """

    def __init__(
        self,
        echo_cancellation: bool = True,
        noise_suppression: bool = True,
        gain_control: bool = True,
    ) -> None:
        rtc = _load()
        self.echo_cancellation = echo_cancellation
        self.noise_suppression = noise_suppression
        self.gain_control = gain_control
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=echo_cancellation,
            noise_suppression=noise_suppression,
            high_pass_filter=True,
            auto_gain_control=gain_control,
        )
        self._render = _Pcm(rtc)
        self._capture = _Pcm(rtc)
        self.delay_ms = DEFAULT_DELAY_MS
        self.cpu_s = 0.0
        self.frames = 0

    def describe(self) -> str:
        """What runs, for the status line and ``mctui devices``: ``AEC+NS+AGC``, ``NS+AGC``."""
        stages = [
            name
            for name, on in (
                ("AEC", self.echo_cancellation),
                ("NS", self.noise_suppression),
                ("AGC", self.gain_control),
            )
            if on
        ]
        return "+".join(stages) or "high-pass"

    def set_delay_ms(self, delay_ms: float) -> None:
        """The time from a frame given to ``render`` to its echo given to ``capture``: the
        output's latency plus the input's (the device reports both)."""
        self.delay_ms = max(0, min(500, round(delay_ms)))

    def render(self, speaker: Frame) -> None:
        """The far end: one device frame as it goes to the output (mono or stereo)."""
        if not self.echo_cancellation:
            return
        started = time.perf_counter()
        mono = to_mono(speaker)
        for start in range(0, FRAME_SAMPLES, APM_SAMPLES):
            self._render.load(mono[start : start + APM_SAMPLES])
            self._apm.process_reverse_stream(self._render.frame)
        self.cpu_s += time.perf_counter() - started

    def capture(self, mic: Frame) -> Frame:
        """The near end: one device frame of the microphone, processed (mono)."""
        started = time.perf_counter()
        mono = to_mono(mic)
        out = np.empty(FRAME_SAMPLES, dtype=np.float32)
        pcm = self._capture
        for start in range(0, FRAME_SAMPLES, APM_SAMPLES):
            if self.echo_cancellation:
                self._apm.set_stream_delay_ms(self.delay_ms)  # before each process_stream
            pcm.load(mono[start : start + APM_SAMPLES])
            self._apm.process_stream(pcm.frame)
            out[start : start + APM_SAMPLES] = pcm.read()
        self.frames += 1
        self.cpu_s += time.perf_counter() - started
        return out
