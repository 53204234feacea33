"""The microphone's voice processing: WebRTC's audio processing module (APM) around RNNoise.

Echo cancellation (AEC3), a high-pass filter and automatic gain control come from WebRTC's own
APM, as browsers run it, through the ``livekit`` package's prebuilt build
(``livekit.rtc.AudioProcessingModule``): a maintained WebRTC build with Linux, macOS and
Windows wheels, 10 ms frames and the three calls an echo canceller needs. Measured here: about
0.35 ms of CPU per 10 ms frame, 33-35 dB of echo return loss enhancement within 3 s on a
synthetic room.

Noise suppression stays RNNoise (``voice.Denoiser``), because it measured better than WebRTC's
suppressor on speech in noise: on espeak-ng speech with white, brown and fan-like noise at 0, 5
and 15 dB SNR the spectral SNR against the clean speech after RNNoise was 13.4-20.5 dB, after
WebRTC's 7.5-17.0 dB (WebRTC ahead in one case of nine, brown noise at 15 dB). WebRTC's
suppressor takes over where RNNoise's wheel is missing. The order is the APM's own:
echo canceller and high-pass first (``front``), then the suppressor, then the gain control
(``gain``, a second APM with only that stage), so noise is removed before it could be raised.

The session feeds it the far end (``render``: exactly what goes to the output device, every
device frame, whether or not anyone talks) and the near end (``capture``: the microphone), and
tells it the delay between the two from the device's reported latencies. Device frames are
20 ms; the APM takes 10 ms, so each device frame is two calls of each kind.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from mctui.audio.channels import to_mono
from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE, Frame
from mctui.audio.voice import Denoiser, noise_suppression_available

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
    high-pass. ``cpu_s`` is the time spent here, for the benchmarks and the status line.
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
        rnnoise = noise_suppression and noise_suppression_available()
        self._denoiser = Denoiser() if rnnoise else None
        self._front = rtc.AudioProcessingModule(
            echo_cancellation=echo_cancellation,
            noise_suppression=noise_suppression and not rnnoise,
            high_pass_filter=True,
        )
        self._gain = rtc.AudioProcessingModule(auto_gain_control=True) if gain_control else None
        self._render = _Pcm(rtc)
        self._capture = _Pcm(rtc)
        self.delay_ms = DEFAULT_DELAY_MS
        self.cpu_s = 0.0
        self.frames = 0

    @property
    def suppressor(self) -> str:
        """Which noise suppressor runs: ``rnnoise``, ``webrtc`` or ``none``."""
        if self._denoiser is not None:
            return "rnnoise"
        return "webrtc" if self.noise_suppression else "none"

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
            self._front.process_reverse_stream(self._render.frame)
        self.cpu_s += time.perf_counter() - started

    def capture(self, mic: Frame) -> Frame:
        """The near end: one device frame of the microphone, processed (mono)."""
        started = time.perf_counter()
        mono = to_mono(mic)
        out = np.empty(FRAME_SAMPLES, dtype=np.float32)
        pcm = self._capture
        for start in range(0, FRAME_SAMPLES, APM_SAMPLES):
            if self.echo_cancellation:
                self._front.set_stream_delay_ms(self.delay_ms)  # before each process_stream
            pcm.load(mono[start : start + APM_SAMPLES])
            self._front.process_stream(pcm.frame)
            out[start : start + APM_SAMPLES] = pcm.read()
        if self._denoiser is not None:
            out = self._denoiser.process(out)
        if self._gain is not None:
            for start in range(0, FRAME_SAMPLES, APM_SAMPLES):
                pcm.load(out[start : start + APM_SAMPLES])
                self._gain.process_stream(pcm.frame)
                out[start : start + APM_SAMPLES] = pcm.read()
        self.frames += 1
        self.cpu_s += time.perf_counter() - started
        return out

    def close(self) -> None:
        if self._denoiser is not None:
            self._denoiser.close()
            self._denoiser = None
