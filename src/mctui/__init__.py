"""mctui: a terminal multicall voice client and the multicall engine under it.

The package root is lazy (PEP 562): ``from mctui import Client`` imports the engine (aiortc,
numpy) on first use, so ``mctui --help`` and ``mctui token`` start without it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AudioConfigurationPolicy": "mctui.audio.config",
    "Call": "mctui.engine",
    "CallPreferences": "mctui.engine",
    "CallType": "mctui.engine",
    "Client": "mctui.engine",
    "ClientOptions": "mctui.engine",
    "ConnectOptions": "mctui.engine",
    "MultiCallAudioPolicy": "mctui.engine",
    "TrackOption": "mctui.engine",
    "User": "mctui.engine",
}

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mctui' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
