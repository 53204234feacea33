"""The public value types of the engine: users, call types, options and preferences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from mctui.audio.config import AudioConfigurationPolicy
from mctui.display import safe_name
from mctui.network import IceServer
from mctui.protocol import CallType as CallType  # the wire enum is the engine one

if TYPE_CHECKING:
    from mctui.audio.devices import BackendSpec


@dataclass(frozen=True, slots=True)
class User:
    """A person (or bot) using mctui."""

    id: str
    name: str = ""

    @property
    def display_name(self) -> str:
        """The name to show a person: someone else chose it, so controls are made visible,
        bidi overrides dropped and the width cut to 32 terminal cells (``mctui.display``)."""
        return safe_name(self.name or self.id)


class MultiCallAudioPolicy(StrEnum):
    """Who gets the microphone and speaker when several calls are active."""

    SUSPEND_EXISTING = "suspend_existing"
    SUSPEND_INCOMING = "suspend_incoming"
    MANUAL = "manual"
    DUCK_EXISTING = "duck_existing"


class TrackMode(StrEnum):
    DEFAULT = "default"
    ENABLED = "enabled"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class TrackOption:
    """Whether a track starts enabled when a call joins; ``default()`` follows the audio config."""

    mode: TrackMode = TrackMode.DEFAULT

    @classmethod
    def enabled(cls) -> TrackOption:
        return cls(TrackMode.ENABLED)

    @classmethod
    def disabled(cls) -> TrackOption:
        return cls(TrackMode.DISABLED)

    @classmethod
    def default(cls) -> TrackOption:
        return cls(TrackMode.DEFAULT)

    def resolve(self, default: bool) -> bool:
        if self.mode is TrackMode.DEFAULT:
            return default
        return self.mode is TrackMode.ENABLED


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How tracks start when joining. mctui is voice-only: the camera is recorded, never opened."""

    microphone: TrackOption = field(default_factory=TrackOption.default)
    camera: TrackOption = field(default_factory=TrackOption.disabled)


@dataclass(frozen=True, slots=True)
class CallPreferences:
    """Per-call settings that override the client's defaults."""

    audio_configuration_policy: AudioConfigurationPolicy | None = None


@dataclass(slots=True)
class ClientOptions:
    """Client-wide settings.

    ``audio_device``: ``"auto"`` (PortAudio if a device exists, else the null device with a
    notice), ``"null"``, ``"memory"``, or an ``AudioBackend`` object.
    ``duck_gain_db``: the gain of background calls under ``DUCK_EXISTING``.
    ``reject_call_when_busy``: reject incoming rings with reason ``busy`` while a call is active.
    """

    allow_multiple_active_calls: bool = True
    multi_call_audio_policy: MultiCallAudioPolicy = MultiCallAudioPolicy.SUSPEND_EXISTING
    audio_configuration_policy: AudioConfigurationPolicy | None = None
    audio_device: BackendSpec = "auto"
    duck_gain_db: float = -18.0
    reject_call_when_busy: bool = False
    request_timeout_s: float = 10.0
    #: How long ``connect()`` waits for the server (TCP, WebSocket and hello) before it fails.
    connect_timeout_s: float = 10.0
    #: STUN/TURN servers the call's connections ask (none by default: nothing leaves the path
    #: to the server).
    ice_servers: tuple[IceServer, ...] = ()
    #: Host addresses the call's connections offer; None: the one that reaches the server
    #: (127.0.0.1 for a server on loopback).
    local_addresses: tuple[str, ...] | None = None
    #: Trickle ICE: with a STUN server, offer at once and send its candidates as they come.
    trickle_ice: bool = True
    #: After the connection to the server drops, how long to keep trying to reconnect (and
    #: rejoin every call) before giving up with ``ConnectionLostError``; 0 gives up at once.
    reconnect_timeout_s: float = 60.0
    #: A keepalive ping every this many seconds; no reply within as long again and the
    #: connection counts as lost (so a blackholed link is noticed in seconds, not minutes).
    keepalive_s: float = 2.5
    #: A private CA's certificate (PEM) to trust for an ``https://`` server, besides the
    #: system's store (a self-signed server: its own certificate).
    ca_file: str | None = None
    #: Cancel the speaker's echo in the microphone (WebRTC's AEC3) for calls with voice
    #: processing; off for a headset, where there is no echo to cancel.
    echo_cancellation: bool = True
    #: The ring of an incoming call on the speaker: ``us`` or ``eu`` cadence, or ``off``.
    ring: str = "us"
    #: How loud the ring is (dBFS).
    ring_volume_db: float = -12.0
    #: Where each room's volume is kept across runs (JSON); None: for this process only.
    volumes_file: str | None = None
    #: Rooms placed in the stereo mix by the user (``[rooms.NAME] pan``): room id or
    #: ``TYPE:ID`` -> -1 (left) .. +1 (right). Other rooms are placed automatically.
    room_pans: Mapping[str, float] = field(default_factory=dict)
    #: Where ``Call.start_recording()`` writes when given no path (``--record-dir``,
    #: ``[recording] dir``); None: the user's data directory, ``recordings/``.
    record_dir: str | None = None


@dataclass(frozen=True)
class ReceiveStats:
    """One remote participant's received audio, as the playout counted it: frames that arrived
    in time (``received``), played from a packet, concealed (lost or late: concealment or the
    next packet's FEC copy), packets that came after their turn (``late``), and frames that
    came first as a RED repeat in a later packet, their own packet lost or overtaken
    (``repaired``; they count as received too)."""

    received: int = 0
    played: int = 0
    concealed: int = 0
    late: int = 0
    repaired: int = 0


@dataclass(frozen=True)
class Invite:
    """A link that lets someone join one call from a web browser (``Call.invite``): it carries a
    guest token that may join only that call and expires at ``expires_at`` (Unix time)."""

    link: str
    guest_id: str
    expires_at: float
