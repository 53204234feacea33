"""mctui: a terminal multicall voice client and the multicall engine under it."""

from mctui.audio.config import AudioConfigurationPolicy
from mctui.engine import (
    Call,
    CallPreferences,
    CallType,
    Client,
    ClientOptions,
    ConnectOptions,
    MultiCallAudioPolicy,
    TrackOption,
    User,
)

__version__ = "0.1.0"

__all__ = [
    "AudioConfigurationPolicy",
    "Call",
    "CallPreferences",
    "CallType",
    "Client",
    "ClientOptions",
    "ConnectOptions",
    "MultiCallAudioPolicy",
    "TrackOption",
    "User",
    "__version__",
]
