"""The multicall engine: Client, Call, their observable state and the audio policies.

Imports neither Textual nor the server (import-linter enforces it).
"""

from mctui.engine.call import Call
from mctui.engine.client import Client
from mctui.engine.state import AudioMode, CallConnection, ClientConnection, Participant
from mctui.engine.types import (
    CallPreferences,
    CallType,
    ClientOptions,
    ConnectOptions,
    Invite,
    MultiCallAudioPolicy,
    TrackOption,
    User,
)

__all__ = [
    "AudioMode",
    "Call",
    "CallConnection",
    "CallPreferences",
    "CallType",
    "Client",
    "ClientConnection",
    "ClientOptions",
    "ConnectOptions",
    "Invite",
    "MultiCallAudioPolicy",
    "Participant",
    "TrackOption",
    "User",
]
