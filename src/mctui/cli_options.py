"""The ``mctui`` command line's vocabulary: the choices its options take and the options several
commands share (typer ``Annotated`` aliases). Standard library and typer only, like ``cli``."""

from __future__ import annotations

import shutil
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mctui.config import CONFIG_ENV, AudioBackendName, LogLevel

#: Rich's boxed help cuts option names and choices below about 100 columns: plain help there.
PLAIN_HELP = shutil.get_terminal_size((120, 24)).columns < 100


class Policy(StrEnum):
    SUSPEND_EXISTING = "suspend-existing"
    SUSPEND_INCOMING = "suspend-incoming"
    MANUAL = "manual"
    DUCK_EXISTING = "duck-existing"


class SfuKind(StrEnum):
    EMBEDDED = "embedded"
    JANUS = "janus"
    NONE = "none"


class AudioProfile(StrEnum):
    """The audio configuration policy of every call (DESIGN section 4)."""

    BROADCASTER = "broadcaster"
    VIEWER = "viewer"
    HIFI = "hifi"


class Scenario(StrEnum):
    MULTICALL = "multicall"
    LIVESTREAM = "livestream"


# --- options every command takes ----------------------------------------------------------------

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", envvar=CONFIG_ENV, help="Config file (TOML).", show_envvar=True),
]
LogFileOpt = Annotated[
    Path | None, typer.Option("--log-file", help="Log file (default: in the user log directory).")
]
LogLevelOpt = Annotated[LogLevel | None, typer.Option("--log-level", help="Log detail.")]
SecretOpt = Annotated[
    str | None, typer.Option("--secret", help="Server secret (else --secret-file / MCTUI_SECRET).")
]
SecretFileOpt = Annotated[
    Path | None, typer.Option("--secret-file", help="File holding the server secret.")
]
ServerOpt = Annotated[str, typer.Option(help="Server URL (http:// or https://).")]
BackendOpt = Annotated[AudioBackendName | None, typer.Option(help="Audio device kind.")]
IceServerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ice-server",
        help="STUN/TURN server (stun:HOST:PORT, turn:HOST:PORT?transport=tcp); repeatable.",
    ),
]
GraceOpt = Annotated[
    float | None,
    typer.Option(
        min=0.1,
        help="Seconds a participant whose connection was lost keeps their place "
        "(default 15; [server] reconnect_grace_s).",
    ),
]
JanusOpt = Annotated[
    list[str] | None,
    typer.Option(help="A Janus instance's WebSocket API (repeatable) for --sfu janus."),
]
JanusKeyOpt = Annotated[
    str | None, typer.Option(help="Janus VideoRoom admin_key, if its config sets one.")
]
ReconnectOpt = Annotated[
    float | None,
    typer.Option(
        "--reconnect-timeout",
        min=0.0,
        help="Seconds to keep trying to reach the server (at start and after a drop).",
    ),
]
IceUserOpt = Annotated[str | None, typer.Option("--ice-username", help="TURN username.")]
IceCredentialOpt = Annotated[str | None, typer.Option("--ice-credential", help="TURN password.")]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(help="Also trust this CA (PEM) for an https:// server (a self-signed one)."),
]
