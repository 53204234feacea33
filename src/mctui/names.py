"""What a user types that names a room or a server, checked before anything heavy is loaded
(the command line validates arguments with these without importing the media stack)."""

from __future__ import annotations

import re

from mctui.protocol import ID_PATTERN, CallType

CALL_TYPES: tuple[str, ...] = tuple(kind.value for kind in CallType)

ROOM_NAME = re.compile(ID_PATTERN)


class RoomNameError(ValueError):
    """A room named on a command line or in the join dialog that cannot exist."""


def split_room(text: str) -> tuple[str, str]:
    """``"alpha"`` -> ("default", "alpha"); ``"livestream:show"`` -> ("livestream", "show").

    Raises ``RoomNameError`` with a sentence for a person (bad type, bad characters, too long).
    """
    kind, sep, name = text.partition(":")
    if not sep:
        kind, name = "default", text
    if kind not in CALL_TYPES:
        types = ", ".join(CALL_TYPES)
        raise RoomNameError(f"unknown room type {kind!r} in {text!r}: use {types}")
    if not ROOM_NAME.match(name):
        shown = name if len(name) <= 40 else name[:37] + "..."
        raise RoomNameError(
            f"bad room name {shown!r}: use 1-128 letters, digits, '_', '-', '.' or '@'"
        )
    return kind, name


def websocket_url(base_url: str) -> str:
    """``http://host:port`` -> ``ws://host:port/ws`` (https -> wss)."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/ws"
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + "/ws"
    if base.startswith(("ws://", "wss://")):
        return base if base.endswith("/ws") else base + "/ws"
    raise ValueError(f"server URL must start with http:// or https://, not {base_url!r}")


def invite_link(base_url: str, cid: str, token: str) -> str:
    """The link a guest opens in a browser: the server's page with the call and the guest
    token in the fragment (``#…``), which a browser never sends to any server."""
    from urllib.parse import urlencode

    base = base_url.rstrip("/")
    for scheme, web in (("wss://", "https://"), ("ws://", "http://")):
        if base.startswith(scheme):
            base = web + base[len(scheme) :]
    base = base.removesuffix("/ws")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"server URL must start with http:// or https://, not {base_url!r}")
    return f"{base}/#{urlencode({'call': cid, 'token': token}, safe=':')}"
