"""The user's config file, as one pydantic model: a typo is an error naming its line.

Where: ``--config PATH``, else ``$MCTUI_CONFIG``, else ``config.toml`` in the user config directory
(platformdirs: ``~/.config/mctui/config.toml`` on Linux). Every setting is optional and
command-line flags win over it::

    [audio]
    backend = "auto"          # auto | sounddevice | null | wav
    input_device = "USB"      # a PortAudio device name (substring) or index
    output_device = 3
    echo_cancellation = "on"  # "off" with a headset
    ring = "eu"               # us | eu | off
    ring_volume_db = -18
    notifications = false     # no desktop notification through the terminal

    [keys]                    # binding id = "key" (Textual key names)
    mute = "m"
    suspend = "ctrl+s"

    [network]                 # real networks (the defaults stay on 127.0.0.1)
    ice_servers = ["stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp"]
    ice_username = "alice"    # for the TURN server
    ice_credential = "s3cret"
    announce = "203.0.113.7"  # serve: the SFU's public address behind a 1:1 NAT
    media_host = "192.0.2.10" # serve: bind the SFU's media here (a proxy in front)

    [server]                  # limits of `mctui serve`
    max_connections_per_user = 16
    messages_per_second = 100

    [log]
    level = "info"            # debug | info | warning | error
    file = "/tmp/mctui.log"   # default: mctui.log in the user log directory
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from platformdirs import user_config_path, user_log_path
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mctui.server.limits import ServerLimits
from mctui.tui.actions import bound_twice, check_keymap

CONFIG_ENV = "MCTUI_CONFIG"


class AudioBackendName(StrEnum):
    AUTO = "auto"
    SOUNDDEVICE = "sounddevice"
    NULL = "null"
    WAV = "wav"
    MEMORY = "memory"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ConfigError(ValueError):
    """The config file is unreadable or has a bad value (the message names the file and line)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnOff(StrEnum):
    ON = "on"
    OFF = "off"


class RingName(StrEnum):
    US = "us"
    EU = "eu"
    OFF = "off"


class AudioSettings(_Section):
    backend: AudioBackendName = AudioBackendName.AUTO
    input_device: int | str | None = None
    output_device: int | str | None = None
    #: The echo canceller on the microphone (``off`` for a headset; ``--no-echo-cancellation``).
    echo_cancellation: OnOff = OnOff.ON
    #: The ring of an incoming call on the speaker: ``us`` (2 s on, 4 s off), ``eu`` (double
    #: ring) or ``off``; and how loud (dBFS).
    ring: RingName = RingName.US
    ring_volume_db: float = Field(default=-12.0, ge=-60.0, le=0.0)
    #: A desktop notification through the terminal (OSC 777 / OSC 9) when a call rings.
    notifications: bool = True


class LogSettings(_Section):
    level: LogLevel = LogLevel.INFO
    file: Path | None = None


class NetworkSettings(_Section):
    """``[network]``: what the peer connections of ``serve``, ``join`` and ``bot`` use when the
    command line does not say (the command line's ``--ice-server`` replaces the list)."""

    ice_servers: list[str] = Field(default_factory=list)
    ice_username: str | None = None
    ice_credential: str | None = None
    #: ``serve`` only: the address the SFU advertises in place of its own (1:1 NAT).
    announce: str | None = None
    #: ``serve`` only: the address the SFU binds media on when it is not the signalling's
    #: (signalling on loopback behind a reverse proxy, media on the public address).
    media_host: str | None = None
    #: ``join``/``bot``: seconds to keep trying to (re)connect before giving up.
    reconnect_timeout: float = Field(default=60.0, ge=0.0)

    @field_validator("ice_servers")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            scheme = url.partition(":")[0]
            if scheme not in ("stun", "stuns", "turn", "turns"):
                raise ValueError(f"{url!r} must start with stun:, stuns:, turn: or turns:")
        return urls

    @field_validator("announce", "media_host")
    @classmethod
    def _address(cls, address: str | None) -> str | None:
        if address is not None:
            ipaddress.ip_address(address)
        return address


class RoomSettings(_Section):
    """``[rooms.NAME]`` (a room id, or ``"TYPE:ID"``): what you chose for one room."""

    #: Where the room sits in the stereo mix: -1 (left) .. +1 (right); unset: automatic.
    pan: float | None = Field(default=None, ge=-1.0, le=1.0)


class RecordingSettings(_Section):
    """``[recording]``: where ``w`` (and headless ``record ROOM on``) writes its files."""

    #: Default: the user's data directory, ``recordings/``.
    dir: Path | None = None

    @field_validator("dir")
    @classmethod
    def _home(cls, directory: Path | None) -> Path | None:
        return directory.expanduser() if directory is not None else None


class Config(_Section):
    audio: AudioSettings = Field(default_factory=AudioSettings)
    rooms: dict[str, RoomSettings] = Field(default_factory=dict)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    server: ServerLimits = Field(default_factory=ServerLimits)
    keys: dict[str, str] = Field(default_factory=dict)
    log: LogSettings = Field(default_factory=LogSettings)
    path: Path | None = Field(default=None, exclude=True)


def default_config_path() -> Path:
    return user_config_path("mctui") / "config.toml"


def default_log_path() -> Path:
    return user_log_path("mctui") / "mctui.log"


def config_path(path: Path | None = None) -> tuple[Path, bool]:
    """The file to read and whether the user named it (then it must exist)."""
    if path is not None:
        return path, True
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env), True
    return default_config_path(), False


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of the table or key that ``loc`` (pydantic's error location) points at."""
    lines = text.splitlines()
    table = str(loc[0]) if loc else ""
    if table == "rooms" and len(loc) >= 2:  # a table of tables: [rooms.NAME], [rooms."T:ID"]
        name = re.escape(str(loc[1]))
        table = rf'rooms\s*\.\s*(?:"{name}"|{name})'
        loc = (loc[0], *loc[2:])
    else:
        table = re.escape(table)
    header = re.compile(rf"^\s*\[\s*{table}\s*\]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if len(loc) < 2:
        return None if start is None else start + 1
    key = re.compile(rf"^\s*\"?{re.escape(str(loc[1]))}\"?\s*=")
    for i in range(start + 1 if start is not None else 0, len(lines)):
        if start is not None and i > start and lines[i].lstrip().startswith("["):
            break
        if key.match(lines[i]):
            return i + 1
    return None if start is None else start + 1


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing default file is an empty config."""
    file, named = config_path(path)
    if not file.exists():
        if named:
            raise ConfigError(f"config file {file} does not exist")
        return Config()
    try:
        text = file.read_text()
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        line = _line_of(text, loc)
        where = f"{file}:{line}" if line else str(file)
        name = ".".join(str(part) for part in loc) or "config"
        if error["type"] == "extra_forbidden":
            what = f"unknown setting {name}" if len(loc) > 1 else f"unknown table [{name}]"
        else:
            what = f"{name}: {error['msg'].removeprefix('Value error, ')}"
        raise ConfigError(f"{where}: {what}") from None
    for binding_id, key in config.keys.items():
        try:
            check_keymap({binding_id: key})
        except ValueError as exc:
            line = _line_of(text, ("keys", binding_id))
            raise ConfigError(f"{file}:{line}: [keys] {exc}") from None
    twice = bound_twice(config.keys)
    if twice is not None:
        key, binding_id, other = twice
        line = _line_of(text, ("keys", binding_id))
        raise ConfigError(
            f'{file}:{line}: [keys] "{key}" is bound twice: {binding_id} and {other} '
            "(give one of them another key)"
        )
    config.path = file
    return config
