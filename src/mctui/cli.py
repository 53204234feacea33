"""The ``mctui`` command line: serve, token, devices, demo, join, bot, bench.

A bad argument prints one line (``mctui: error: ...``) and exits with code 2; no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer

try:  # typer >= 0.20 vendors its own click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exc  # type: ignore[no-redef]

from mctui.secrets import SecretError, load_secret
from mctui.shutdown import stop_on_signals

if TYPE_CHECKING:
    from mctui.engine import MultiCallAudioPolicy

T = TypeVar("T")

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


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine. (uvloop was measured here and changed nothing: the cost is in
    codecs and aiortc's Python, not in the loop.)"""
    return asyncio.run(coro)


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
    _run(_serve(host, port, key, ring_timeout, sfu))


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
    stop = stop_on_signals()
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


POLICIES = {
    "suspend-existing": "suspend_existing",
    "suspend-incoming": "suspend_incoming",
    "manual": "manual",
    "duck-existing": "duck_existing",
}


def _policy(name: str) -> MultiCallAudioPolicy:
    from mctui.engine import MultiCallAudioPolicy

    if name not in POLICIES:
        _fail(f"--policy must be one of {', '.join(POLICIES)}, not {name!r}")
    return MultiCallAudioPolicy(POLICIES[name])


def _device_arg(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


@app.command()
def join(
    rooms: Annotated[list[str], typer.Argument(help="Rooms to join (type:name for livestream:).")],
    server: Annotated[str, typer.Option(help="Server URL.")] = "http://127.0.0.1:8470",
    user: Annotated[str, typer.Option(help="Your user id.")] = "me",
    name: Annotated[str | None, typer.Option(help="Your display name.")] = None,
    token_: Annotated[
        str | None, typer.Option("--token", help="Your token (else minted from the secret).")
    ] = None,
    secret: SecretOpt = None,
    secret_file: SecretFileOpt = None,
    policy: Annotated[
        str, typer.Option(help="suspend-existing | suspend-incoming | manual | duck-existing")
    ] = "suspend-existing",
    single_call: Annotated[
        bool, typer.Option("--single-call", help="Only one active call at a time.")
    ] = False,
    audio_backend: Annotated[
        str | None, typer.Option(help="auto | sounddevice | null | wav")
    ] = None,
    input_device: Annotated[str | None, typer.Option(help="Input device name or index.")] = None,
    output_device: Annotated[str | None, typer.Option(help="Output device name or index.")] = None,
    input_wav: Annotated[Path | None, typer.Option(help="Read the mic from this WAV.")] = None,
    output_wav: Annotated[Path | None, typer.Option(help="Record the speaker mix.")] = None,
    config: Annotated[Path | None, typer.Option(help="Config file (TOML).")] = None,
    headless: Annotated[bool, typer.Option(help="No UI: JSON events out, commands in.")] = False,
    events: Annotated[str, typer.Option(help="Where headless events go ('-' = stdout).")] = "-",
) -> None:
    """Join ROOMS and open the terminal UI (or run headless)."""
    from mctui.config import AUDIO_BACKENDS, ConfigError, load_config

    if not rooms:
        _fail("name at least one room")
    try:
        settings = load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
        return
    backend = audio_backend or settings.audio.backend
    if backend not in AUDIO_BACKENDS:
        _fail(f"--audio-backend must be one of {', '.join(AUDIO_BACKENDS)}, not {backend!r}")
    if input_wav is not None and not input_wav.exists():
        _fail(f"--input-wav {input_wav} does not exist")
    chosen_policy = _policy(policy)
    for room in rooms:
        from mctui.engine.rooms import parse_room

        try:
            parse_room(room)
        except ValueError:
            _fail(f"unknown room type in {room!r}: use default:, livestream: or audio_room:")
    token_value = token_ or _mint(user, name, secret, secret_file)
    from mctui.audio.devices import backend_for
    from mctui.engine import Client, ClientOptions, User
    from mctui.errors import MctuiError

    try:
        device = backend_for(
            backend,
            _device_arg(input_device) or settings.audio.input_device,
            _device_arg(output_device) or settings.audio.output_device,
            input_wav,
            output_wav,
        )
    except MctuiError as exc:
        _fail(str(exc))
        return
    options = ClientOptions(
        allow_multiple_active_calls=not single_call,
        multi_call_audio_policy=chosen_policy,
        audio_device=device,
    )
    client = Client(server, User(user, name or user), token_value, options)

    async def connect() -> Client:
        await client.connect()
        return client

    if headless:
        from mctui.headless import run_headless

        with _event_stream(events) as stream:
            code = _run(run_headless(connect, rooms, stream))
        raise typer.Exit(code)
    from mctui.tui.app import make_app_class

    try:
        app_class = make_app_class(settings.keys)
    except ValueError as exc:
        _fail(str(exc))
        return
    app_class(connect, rooms).run()


@app.command()
def bot(
    room: Annotated[str, typer.Argument(help="Room to join (type:name for livestream:).")],
    server: Annotated[str, typer.Option(help="Server URL.")] = "http://127.0.0.1:8470",
    user: Annotated[str | None, typer.Option(help="The bot's user id.")] = None,
    token_: Annotated[str | None, typer.Option("--token", help="The bot's token.")] = None,
    secret: SecretOpt = None,
    secret_file: SecretFileOpt = None,
    tone: Annotated[float | None, typer.Option(min=20, max=20000, help="Play a tone (Hz).")] = None,
    speech: Annotated[bool, typer.Option(help="Speech-like bursts with pauses.")] = False,
) -> None:
    """Run a synthetic participant in ROOM until Ctrl-C or SIGTERM."""
    from mctui.engine.rooms import parse_room

    if tone is not None and speech:
        _fail("choose --tone or --speech, not both")
    try:
        call_type, name = parse_room(room)
    except ValueError:
        _fail(f"unknown room type in {room!r}")
        return
    user_id = user or (f"bot-{int(tone)}hz" if tone else "bot-speech")
    token_value = token_ or _mint(user_id, None, secret, secret_file)
    _run(_run_bot(server, user_id, token_value, call_type, name, tone, speech or not tone))


async def _run_bot(
    server: str, user_id: str, token: str, call_type: object, room: str,
    hz: float | None, speech: bool,
) -> None:  # fmt: skip
    from mctui.bots import Bot, speech_like
    from mctui.bots import tone as tone_signal
    from mctui.engine import CallType, User
    from mctui.errors import MctuiError

    signal_data = speech_like(seed=hash(user_id) % 1000) if speech else tone_signal(hz or 440)
    assert isinstance(call_type, CallType)
    runner = Bot(server, User(user_id), token, signal_data, room=room, call_type=call_type)
    try:
        await runner.start()
    except MctuiError as exc:
        print(f"mctui: error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    print(f"bot {user_id} in {room} ({'speech' if speech else f'{hz:g} Hz'})", flush=True)
    stop = stop_on_signals()
    try:
        await stop.wait()
    finally:
        await runner.stop()


@contextlib.contextmanager
def _event_stream(events: str) -> Iterator[TextIO]:
    if events == "-":
        yield sys.stdout
        return
    try:
        handle = open(events, "a")  # noqa: SIM115 - closed below
    except OSError as exc:
        _fail(f"cannot write events to {events}: {exc.strerror}")
        return
    with handle:
        yield handle


def _mint(user: str, name: str | None, secret: str | None, secret_file: Path | None) -> str:
    from mctui.server.tokens import issue_token

    return issue_token(_secret(secret, secret_file), user, name or user, 12 * 3600)


@app.command()
def demo(
    scenario_name: Annotated[
        str, typer.Argument(metavar="[multicall|livestream]", help="Which scenario.")
    ] = "multicall",
    headless: Annotated[bool, typer.Option(help="No UI: JSON events out, commands in.")] = False,
    audio_backend: Annotated[
        str | None, typer.Option(help="auto | sounddevice | null | wav")
    ] = None,
    input_wav: Annotated[Path | None, typer.Option(help="Read the mic from this WAV.")] = None,
    output_wav: Annotated[Path | None, typer.Option(help="Record the speaker mix.")] = None,
    ring_after: Annotated[
        float, typer.Option(min=0.0, help="livestream: seconds before the friend rings.")
    ] = 5.0,
    call_seconds: Annotated[
        float, typer.Option(min=0.5, help="livestream: length of the 1:1 after you accept.")
    ] = 20.0,
) -> None:
    """Start the embedded server with speaking bots and join as you (no set-up needed)."""
    from mctui.config import AUDIO_BACKENDS, ConfigError, load_config
    from mctui.demo import SCENARIOS, DemoBackendProcess, scenario

    if scenario_name not in SCENARIOS:
        _fail(f"unknown scenario {scenario_name!r}: choose {' or '.join(SCENARIOS)}")
    chosen = scenario(scenario_name)
    try:
        settings = load_config()
    except ConfigError as exc:
        _fail(str(exc))
        return
    backend = audio_backend or settings.audio.backend
    if backend not in AUDIO_BACKENDS:
        _fail(f"--audio-backend must be one of {', '.join(AUDIO_BACKENDS)}, not {backend!r}")
    from mctui.audio.devices import backend_for
    from mctui.engine import Client, ClientOptions, MultiCallAudioPolicy, User
    from mctui.errors import MctuiError

    try:
        device = backend_for(
            backend,
            settings.audio.input_device,
            settings.audio.output_device,
            input_wav,
            output_wav,
        )
    except MctuiError as exc:
        _fail(str(exc))
        return
    child = DemoBackendProcess(chosen.name, ring_after, call_seconds)
    state: dict[str, Client] = {}

    async def connect() -> Client:
        url, token_value = await child.start()
        options = ClientOptions(
            multi_call_audio_policy=MultiCallAudioPolicy(chosen.policy), audio_device=device
        )
        client = Client(url, User("you", "You"), token_value, options)
        state["client"] = client
        await client.connect()
        return client

    code = 0
    try:
        if headless:
            from mctui.headless import run_headless

            code = _run(run_headless(connect, chosen.rooms, sys.stdout))
        else:
            from mctui.tui.app import make_app_class

            make_app_class(settings.keys)(connect, chosen.rooms).run()
    finally:
        child.stop()
    raise typer.Exit(code)


@app.command("demo-backend", hidden=True)
def demo_backend(
    scenario_name: Annotated[str, typer.Argument()],
    ring_after: Annotated[float, typer.Option()] = 5.0,
    call_seconds: Annotated[float, typer.Option()] = 20.0,
) -> None:
    """(internal) The demo's server and bots; started and stopped by ``mctui demo``."""
    from mctui.demo import run_backend

    _run(run_backend(scenario_name, ring_after, call_seconds))


@app.command()
def bench(
    only: Annotated[
        str | None, typer.Option(help="Run one benchmark (e.g. focus_switch) and keep the rest.")
    ] = None,
) -> None:
    """Run the benchmarks of a source checkout (what `make bench` runs)."""
    import subprocess

    runner = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
    if not runner.exists():
        _fail("the benchmarks live in mctui's source checkout; run `make bench` there")
    extra = ["--only", only] if only else []
    raise typer.Exit(subprocess.call([sys.executable, str(runner), *extra]))


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
