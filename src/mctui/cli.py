"""The ``mctui`` command line: serve, token, devices, demo, join, bot, bench.

A bad argument prints one line (``mctui: error: ...``) and exits with code 2; no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

try:  # typer >= 0.20 vendors its own click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exc  # type: ignore[no-redef]

from mctui.secrets import SecretError, load_secret

app = typer.Typer(
    name="mctui",
    help="A terminal multicall voice client: several voice rooms at once, one key to switch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SecretOpt = Annotated[
    str | None, typer.Option("--secret", help="Server secret (else --secret-file / MCTUI_SECRET).")
]
SecretFileOpt = Annotated[
    Path | None, typer.Option("--secret-file", help="File holding the server secret.")
]


def _fail(message: str) -> None:
    raise click_exc.UsageError(message)


def _secret(secret: str | None, secret_file: Path | None) -> str:
    try:
        return load_secret(secret, secret_file)
    except SecretError as exc:
        _fail(str(exc))
        raise AssertionError("unreachable") from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free).")] = 8470,
    secret: SecretOpt = None,
    secret_file: SecretFileOpt = None,
    ring_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds before an unanswered ring is missed.")
    ] = 30.0,
    sfu: Annotated[
        str, typer.Option(help="Media server: 'embedded' (aiortc in-process) or 'none'.")
    ] = "embedded",
) -> None:
    """Run the coordinator with the embedded SFU until Ctrl-C."""
    if sfu not in ("embedded", "none"):
        _fail(f"--sfu must be 'embedded' or 'none', not {sfu!r}")
    key = _secret(secret, secret_file)
    asyncio.run(_serve(host, port, key, ring_timeout, sfu))


async def _serve(host: str, port: int, secret: str, ring_timeout: float, sfu_kind: str) -> None:
    from mctui.server.app import start_server
    from mctui.server.sfu_factory import make_sfu

    sfu = make_sfu(sfu_kind)
    try:
        running = await start_server(secret, host, port, ring_timeout=ring_timeout, sfu=sfu)
    except OSError as exc:
        print(f"mctui: error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        raise typer.Exit(1) from exc
    print(f"mctui server listening on {running.url} (SFU: {sfu_kind})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await running.stop()
        print("mctui server stopped", flush=True)


@app.command()
def token(
    user_id: Annotated[str, typer.Argument(help="The user id the token is for.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 30s, 15m, 1h, 7d.")] = "1h",
    secret: SecretOpt = None,
    secret_file: SecretFileOpt = None,
) -> None:
    """Print a signed token for USER_ID (alone on the last line)."""
    from mctui.server.tokens import issue_token, parse_duration

    try:
        seconds = parse_duration(ttl)
    except ValueError as exc:
        _fail(str(exc))
        return
    key = _secret(secret, secret_file)
    print(issue_token(key, user_id, name or user_id, seconds))


@app.command()
def devices() -> None:
    """List audio input and output devices and the defaults."""
    from mctui.audio.sounddevice_backend import describe_devices
    from mctui.errors import NoAudioDeviceError

    try:
        found, default_in, default_out = describe_devices()
    except NoAudioDeviceError as exc:
        print(f"No audio devices: {exc}. mctui will use the null device.")
        return
    if not found:
        print("No audio devices found. mctui will use the null device.")
        return
    for direction, channels_key, default in (
        ("Inputs", "max_input_channels", default_in),
        ("Outputs", "max_output_channels", default_out),
    ):
        print(f"{direction}:")
        rows = [d for d in found if d.get(channels_key, 0) > 0]
        if not rows:
            print("  (none)")
        for device in rows:
            index = device["index"]
            mark = "*" if index == default else " "
            print(f" {mark}{index:>3}  {device['name']}  ({device[channels_key]} ch)")
    print("* = default. Choose with --input-device / --output-device or [audio] in the config.")


def main() -> None:
    """Entry point: one-line errors with exit code 2 for bad arguments."""
    try:
        app(standalone_mode=False)
    except click_exc.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "", file=sys.stderr)
        sys.exit(2)
    except click_exc.UsageError as exc:
        print(f"mctui: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except click_exc.ClickException as exc:
        print(f"mctui: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("mctui: aborted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
