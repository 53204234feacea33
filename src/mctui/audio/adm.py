"""The per-call audio device module (ADM).

Each call owns one. It holds (or not) the shared microphone and speaker of the client's
``AudioSession``; takes capture frames for the call's outgoing track while it holds the mic and its
capture is enabled; buffers each remote participant's audio and mixes it for playout while it holds
the speaker; and measures levels. The engine changes holds and enabled flags; it never touches
frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mctui.audio.channels import fit_channels, to_mono
from mctui.audio.config import FRAME_SAMPLES, AudioConfigurationPolicy, Frame
from mctui.audio.levels import FLOOR_DBFS, SpeakingDetector, peak_dbfs, rms_dbfs

_SILENCE: Frame = np.zeros(FRAME_SAMPLES, dtype=np.float32)
_SILENCE.setflags(write=False)
_SILENCE_STEREO: Frame = np.zeros((FRAME_SAMPLES, 2), dtype=np.float32)
_SILENCE_STEREO.setflags(write=False)

PLAYOUT_QUEUE_FRAMES = 15
STANDBY_FRAMES = 2
#: A room's volume steps (``call.set_volume_db``): 3 dB, up to +12; the lowest step is silence.
VOLUME_STEP_DB = 3.0
VOLUME_MAX_DB = 12.0
VOLUME_MUTED_DB = -60.0


class PlayoutSource(Protocol):
    """A remote stream the device clock pulls (the network's adaptive jitter buffer): one 20 ms
    frame per call, or None while the sender is quiet."""

    def pull(self) -> Frame | None: ...


@dataclass
class RemoteAudio:
    """One remote participant's audio in this call: a source pulled at the device clock (or a
    small queue of pushed frames), a level, a switch."""

    participant_id: str
    enabled: bool = True
    source: PlayoutSource | None = None
    queue: deque[Frame] = field(default_factory=lambda: deque(maxlen=PLAYOUT_QUEUE_FRAMES))
    level_dbfs: float = FLOOR_DBFS
    peak_dbfs: float = FLOOR_DBFS
    speaking: bool = False
    detector: SpeakingDetector = field(default_factory=SpeakingDetector)
    frames_received: int = 0


class AudioDeviceModule:
    """One call's view of the audio device."""

    def __init__(
        self,
        name: str,
        config: AudioConfigurationPolicy,
        on_holds_changed: Callable[[AudioDeviceModule], None],
    ) -> None:
        self.name = name
        self.config = config
        self._session_hold_callback = on_holds_changed
        self._hold_observer: Callable[[AudioDeviceModule], None] | None = None
        self._capture_sink: Callable[[Frame], None] | None = None
        self.holds_microphone = False
        self.holds_speaker = False
        self.speaker_gain_db = 0.0
        #: The user's volume for this room, applied before the policy's gain (ducking).
        self.volume_db = 0.0
        #: Where this room sits in the stereo mix (-1 left .. +1 right; ``audio.pan``).
        self.pan = 0.0
        #: Given each device frame: the room as heard (before any gain) and the mic sent into
        #: it (None: nothing sent). A recording listens here.
        self.tap: Callable[[Frame, Frame | None], None] | None = None
        self.capture_enabled = False
        self.closed = False
        self.remotes: dict[str, RemoteAudio] = {}
        self.frames_captured = 0
        self.mic_level_dbfs = FLOOR_DBFS
        self.mic_peak_dbfs = FLOOR_DBFS
        self._mic_detector = SpeakingDetector()
        self.mic_speaking = False

    def set_capture_sink(self, sink: Callable[[Frame], None] | None) -> None:
        """Where captured frames go (the call's outgoing track); with none they are dropped."""
        self._capture_sink = sink

    def set_hold_observer(self, observer: Callable[[AudioDeviceModule], None]) -> None:
        """Be told (after the session) whenever this ADM's holds change."""
        self._hold_observer = observer

    def _on_holds_changed(self, adm: AudioDeviceModule) -> None:
        self._session_hold_callback(adm)
        if self._hold_observer is not None:
            self._hold_observer(adm)

    # --- holds (the engine's levers) ---------------------------------------------------------

    def hold_microphone(self) -> None:
        if not self.holds_microphone and not self.closed:
            self.holds_microphone = True
            self._on_holds_changed(self)

    def release_microphone(self) -> None:
        if self.holds_microphone:
            self.holds_microphone = False
            self._on_holds_changed(self)

    def hold_speaker(self, gain_db: float = 0.0) -> None:
        if self.closed:
            return
        if not self.holds_speaker or self.speaker_gain_db != gain_db:
            self.holds_speaker = True
            self.speaker_gain_db = gain_db
            self._on_holds_changed(self)

    def release_speaker(self) -> None:
        if self.holds_speaker:
            self.holds_speaker = False
            self.speaker_gain_db = 0.0
            self._on_holds_changed(self)

    def set_capture_enabled(self, enabled: bool) -> None:
        """Enable or disable the outgoing microphone track."""
        self.capture_enabled = enabled

    def set_remote_enabled(self, participant_id: str, enabled: bool) -> None:
        remote = self.remotes.get(participant_id)
        if remote is not None:
            if enabled and not remote.enabled:
                while len(remote.queue) > STANDBY_FRAMES:  # resume with the freshest audio
                    remote.queue.popleft()
            remote.enabled = enabled

    @property
    def playout_gain(self) -> float:
        """The linear gain of this call in the speaker mix: the user's volume, then the
        policy's (a ducked call's duck gain); 0 for a room turned all the way down."""
        if self.volume_db <= VOLUME_MUTED_DB:
            return 0.0
        return float(10.0 ** ((self.volume_db + self.speaker_gain_db) / 20.0))

    @property
    def is_capturing(self) -> bool:
        """True when microphone frames flow into this call's outgoing track."""
        return self.holds_microphone and self.capture_enabled and not self.closed

    # --- capture ------------------------------------------------------------------------------

    def push_capture(self, frame: Frame) -> bool:
        """Offer one microphone frame (the session's processed voice when this call's policy
        wants voice processing, else the raw device frame); kept only while capturing.
        Returns whether it was kept."""
        if not self.is_capturing:
            return False
        frame = fit_channels(frame, self.config.capture_channels)
        self.frames_captured += 1
        if self._capture_sink is not None:
            self._capture_sink(frame)
        return True

    def measure_mic(self, frame: Frame) -> None:
        if not self.is_capturing:
            self.mic_level_dbfs = self.mic_peak_dbfs = FLOOR_DBFS
        else:
            mono = to_mono(frame)
            self.mic_level_dbfs = float(rms_dbfs(mono)[0])
            self.mic_peak_dbfs = float(peak_dbfs(mono)[0])
        self.mic_speaking = self._mic_detector.update(self.mic_level_dbfs)

    # --- playout ------------------------------------------------------------------------------

    def add_remote(self, participant_id: str) -> RemoteAudio:
        remote = self.remotes.get(participant_id)
        if remote is None:
            remote = RemoteAudio(participant_id)
            self.remotes[participant_id] = remote
        return remote

    def attach_source(self, participant_id: str, source: PlayoutSource | None) -> None:
        """Play this participant from ``source``, pulled once per device frame (whether or not
        this call holds the speaker, so a resumed call plays what is current)."""
        self.add_remote(participant_id).source = source

    def detach_source(self, participant_id: str) -> None:
        """Stop pulling this participant's source (its stream ended); the remote stays."""
        remote = self.remotes.get(participant_id)
        if remote is not None:
            remote.source = None

    def remove_remote(self, participant_id: str) -> None:
        self.remotes.pop(participant_id, None)

    def push_remote(self, participant_id: str, frame: Frame) -> None:
        """Queue one decoded 20 ms frame (mono or stereo; stored with this call's playout
        channels) from a participant; the oldest is dropped when the queue is full."""
        remote = self.add_remote(participant_id)
        remote.frames_received += 1
        remote.queue.append(fit_channels(frame, self.config.playout_channels))
        if not remote.enabled:
            # Not played, but the newest frames are kept so a resume is heard on the very
            # next device frame instead of waiting for the network.
            while len(remote.queue) > STANDBY_FRAMES:
                remote.queue.popleft()

    def pull_playout(self) -> Frame:
        """Mix one frame of every enabled remote (unity gain), measuring each participant.

        Mono (``(960,)``) or stereo (``(960, 2)``) as this call's playout configuration says.
        """
        remotes = list(self.remotes.values())
        silence = _SILENCE if self.config.playout_channels == 1 else _SILENCE_STEREO
        if not remotes:
            return silence
        stack = np.stack([self._next_frame(r, silence) for r in remotes])
        metered = stack if stack.ndim == 2 else stack.mean(axis=2)
        rms = rms_dbfs(metered)
        peaks = peak_dbfs(metered)
        for remote, level, peak in zip(remotes, rms, peaks, strict=True):
            remote.level_dbfs = float(level)
            remote.peak_dbfs = float(peak)
            remote.speaking = remote.detector.update(float(level))
        return np.asarray(stack.sum(axis=0), dtype=np.float32)

    def _next_frame(self, remote: RemoteAudio, silence: Frame) -> Frame:
        if remote.source is not None:
            frame = remote.source.pull()
            if frame is None or not remote.enabled:
                return silence
            remote.frames_received += 1
            return fit_channels(frame, self.config.playout_channels)
        if remote.enabled and remote.queue:
            return remote.queue.popleft()
        return silence

    def close(self) -> None:
        self._capture_sink = None
        self.release_microphone()
        self.release_speaker()
        self.capture_enabled = False
        self.closed = True
        self.remotes.clear()
