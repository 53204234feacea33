"""What every ``mctui`` command does first and how it fails: read the config, open the log, and
exit with one line (code 2 for the user's typing, 1 otherwise) that names the log file."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from mctui import __version__
from mctui.cli_options import IceOptions, LogOptions, SecretOptions
from mctui.click_private import click_exc
from mctui.config import Config, ConfigError, default_log_path, load_config
from mctui.secrets import SecretError, load_secret

if TYPE_CHECKING:
    from mctui.network import IceServer

T = TypeVar("T")
log = logging.getLogger("mctui.cli")


class _Run:
    """The config and log file of this command run (set by ``_setup``)."""

    log_path: Path | None = None


def _fail(message: str) -> NoReturn:
    """A usage error: one line, exit code 2."""
    raise click_exc.UsageError(message)


def _error(message: str, code: int = 1) -> NoReturn:
    """A failure that is not the user's typing: one line naming the log, exit ``code``."""
    where = f" (details in {_Run.log_path})" if _Run.log_path else ""
    log.error("%s", message)
    print(f"mctui: error: {message}{where}", file=sys.stderr)
    raise typer.Exit(code)


def _setup(options: LogOptions, *, stderr: bool = False) -> Config:
    """Read the config file and open the log: what every command does first."""
    from mctui.logs import setup_logging

    try:
        settings = load_config(options.config)
    except ConfigError as exc:
        _fail(str(exc))
    path = options.log_file or settings.log.file or default_log_path()
    level = (options.log_level or settings.log.level).value
    _Run.log_path = setup_logging(path, level, stderr=stderr)
    log.info("mctui %s: %s", __version__, " ".join(sys.argv[1:]))
    return settings


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine. (uvloop was measured here and changed nothing: the cost is in
    codecs and aiortc's Python, not in the loop.)"""
    return asyncio.run(coro)


def _secret(options: SecretOptions) -> str:
    try:
        return load_secret(options.secret, options.secret_file)
    except SecretError as exc:
        _fail(str(exc))


def _server_url(url: str) -> str:
    from mctui.names import websocket_url

    try:
        websocket_url(url)
    except ValueError as exc:
        _fail(f"--server {url!r}: {exc}")
    return url


def _rooms(rooms: list[str]) -> list[str]:
    from mctui.names import RoomNameError, split_room

    if not rooms:
        _fail("name at least one room")
    for room in rooms:
        try:
            split_room(room)
        except RoomNameError as exc:
            _fail(str(exc))
    return rooms


def _mint(user: str, name: str | None, secrets: SecretOptions) -> str:
    from mctui.server.tokens import issue_token

    try:
        return issue_token(_secret(secrets), user, name or user, 12 * 3600)
    except ValueError as exc:
        _fail(f"--user: {exc}")


def _token_user(token: str) -> str | None:
    """The user id a token names, read without checking its signature (only the server can):
    the user a ``--token`` without ``--user`` joins as. None for something that is no token."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


def _answers(server: str) -> bool:
    """True if an mctui server answers ``/health`` at ``server`` within 2 s (an HTTPS server
    whose certificate this machine does not trust, a self-signed one, counts: it is there)."""
    import ssl
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(server.rstrip("/") + "/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except urllib.error.URLError as exc:
        return isinstance(exc.reason, ssl.SSLCertVerificationError)
    except (OSError, ValueError):
        return False


def _ice_servers(settings: Config, options: IceOptions) -> tuple[IceServer, ...]:
    """The ICE servers from the command line (else the config file), each checked."""
    from mctui.network import parse_ice_server

    net = settings.network
    username = options.ice_username or net.ice_username
    credential = options.ice_credential or net.ice_credential
    urls = options.ice_server or net.ice_servers
    try:
        return tuple(parse_ice_server(u, username, credential) for u in urls)
    except ValueError as exc:
        _fail(str(exc))
