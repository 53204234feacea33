"""The ``mctui`` command line's vocabulary: the choices its options take and the options several
commands share (typer ``Annotated`` aliases). Standard library and typer only, like ``cli``."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import shutil
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_type_hints

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
    CONSOLE = "console"


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


# --- option groups: options several commands take together, declared once ------------------------


@dataclasses.dataclass(frozen=True)
class LogOptions:
    """What every command reads first: its config file and where and how much it logs."""

    config: ConfigOpt = None
    log_file: LogFileOpt = None
    log_level: LogLevelOpt = None


@dataclasses.dataclass(frozen=True)
class SecretOptions:
    """The server secret, to sign tokens with (or to serve with)."""

    secret: SecretOpt = None
    secret_file: SecretFileOpt = None


@dataclasses.dataclass(frozen=True)
class IceOptions:
    """The STUN/TURN servers a peer connection asks (else ``[network]``)."""

    ice_server: IceServerOpt = None
    ice_username: IceUserOpt = None
    ice_credential: IceCredentialOpt = None


@dataclasses.dataclass(frozen=True)
class ClientNetOptions:
    """How a client reaches its server: how long it keeps trying, and a CA to trust for a
    self-signed ``https://`` server."""

    reconnect_timeout: ReconnectOpt = None
    ca_file: CaFileOpt = None

    @property
    def ca_path(self) -> str | None:
        return str(self.ca_file) if self.ca_file else None


def with_option_groups(command: Callable[..., Any]) -> Callable[..., Any]:
    """Let a command take an option group (a dataclass above) as one parameter: typer sees the
    group's fields as options, in its place, and the command gets the group built from them.

    Typer reads a command's ``inspect.signature``; this gives it one with each group parameter
    replaced by the group's fields (their ``Annotated`` options and defaults)."""
    hints = get_type_hints(command, include_extras=True)
    signature = inspect.signature(command)
    groups: dict[str, type[Any]] = {}
    parameters: list[inspect.Parameter] = []
    for name, parameter in signature.parameters.items():
        hint = hints.get(name, parameter.annotation)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            groups[name] = hint
            field_hints = get_type_hints(hint, include_extras=True)
            parameters.extend(
                inspect.Parameter(
                    field.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=field.default,
                    annotation=field_hints[field.name],
                )
                for field in dataclasses.fields(hint)
            )
        else:
            parameters.append(parameter.replace(annotation=hint))

    @functools.wraps(command)
    def grouped(*args: Any, **options: Any) -> Any:
        for name, group in groups.items():
            options[name] = group(
                **{f.name: options.pop(f.name) for f in dataclasses.fields(group)}
            )
        return command(*args, **options)

    grouped.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=_keyword_only_after_groups(parameters)
    )
    grouped.__annotations__ = {}
    return grouped


def _keyword_only_after_groups(parameters: list[inspect.Parameter]) -> list[inspect.Parameter]:
    """A valid order: once a keyword-only parameter (a group's field) comes, the rest are too."""
    ordered: list[inspect.Parameter] = []
    keyword_only = False
    for parameter in parameters:
        keyword_only = keyword_only or parameter.kind is inspect.Parameter.KEYWORD_ONLY
        kind = inspect.Parameter.KEYWORD_ONLY if keyword_only else parameter.kind
        ordered.append(parameter.replace(kind=kind))
    return ordered
