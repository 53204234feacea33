"""The user's config file: audio device choice and key bindings.

``$XDG_CONFIG_HOME/mctui/config.toml`` (else ``~/.config/mctui/config.toml``); every setting is
optional and command-line flags win over it::

    [audio]
    backend = "auto"          # auto | sounddevice | null | wav
    input_device = "USB"      # a PortAudio device name (substring) or index
    output_device = 3

    [keys]                    # action = "key" (Textual key names)
    mute = "m"
    suspend = "s"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AUDIO_BACKENDS = ("auto", "sounddevice", "null", "wav", "memory")


class ConfigError(ValueError):
    """The config file is unreadable or has a bad value (the message names the file and key)."""


@dataclass
class AudioSettings:
    backend: str = "auto"
    input_device: int | str | None = None
    output_device: int | str | None = None


@dataclass
class Config:
    audio: AudioSettings = field(default_factory=AudioSettings)
    keys: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mctui" / "config.toml"


def _device(value: Any, where: str) -> int | str | None:
    if value is None or (isinstance(value, int | str) and not isinstance(value, bool)):
        return value  # type: ignore[no-any-return]
    raise ConfigError(f"{where}: must be a device name or index")


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file is an empty config."""
    file = path or default_config_path()
    if not file.exists():
        if path is not None:
            raise ConfigError(f"config file {file} does not exist")
        return Config()
    try:
        data = tomllib.loads(file.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    audio = data.get("audio", {})
    keys = data.get("keys", {})
    if not isinstance(audio, dict) or not isinstance(keys, dict):
        raise ConfigError(f"{file}: [audio] and [keys] must be tables")
    backend = audio.get("backend", "auto")
    if backend not in AUDIO_BACKENDS:
        raise ConfigError(f"{file}: audio.backend must be one of {', '.join(AUDIO_BACKENDS)}")
    bad_keys = [k for k, v in keys.items() if not isinstance(v, str) or not v]
    if bad_keys:
        raise ConfigError(f'{file}: keys.{bad_keys[0]} must be a key name such as "m"')
    return Config(
        audio=AudioSettings(
            backend=backend,
            input_device=_device(audio.get("input_device"), f"{file}: audio.input_device"),
            output_device=_device(audio.get("output_device"), f"{file}: audio.output_device"),
        ),
        keys=dict(keys),
        path=file,
    )
