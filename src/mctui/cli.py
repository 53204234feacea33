"""The ``mctui`` command line: serve, token, invite, devices, demo, join, bot, bench.

Every failure exits non-zero with one line on stderr (``mctui: error: ...``); a bad argument exits
with code 2. Details go to the log file (``--log-file``, default in the user log directory), and
the one line says where it is. Heavy modules (aiortc, numpy, textual) are imported inside the
commands that need them, so ``mctui --help`` and ``mctui token`` start fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from mctui import __version__
from mctui.cli_common import (
    _answers,
    _error,
    _fail,
    _ice_servers,
    _mint,
    _rooms,
    _Run,
    _run,
    _secret,
    _server_url,
    _setup,
    _token_user,
)
from mctui.cli_options import (
    PLAIN_HELP,
    AudioProfile,
    BackendOpt,
    CaFileOpt,
    ClientNetOptions,
    IceOptions,
    JanusKeyOpt,
    JanusOpt,
    LogFileOpt,
    LogOptions,
    Policy,
    Scenario,
    SecretOptions,
    ServerOpt,
    SfuKind,
    with_option_groups,
)
from mctui.cli_serve import serve
from mctui.click_private import click_exc
from mctui.config import (
    Config,
)

if TYPE_CHECKING:
    from mctui.engine import Client

log = logging.getLogger("mctui.cli")

app = typer.Typer(
    name="mctui",
    rich_markup_mode=None if PLAIN_HELP else "rich",
    help="A terminal multicall voice client: several voice rooms at once, one key to switch.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(serve)


def _version(value: bool) -> None:
    if value:
        print(f"mctui {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """A terminal multicall voice client: several voice rooms at once, one key to switch."""


# --- commands -----------------------------------------------------------------------------------


def _reconnect_timeout(settings: Config, given: float | None) -> float:
    return given if given is not None else settings.network.reconnect_timeout


@app.command()
@with_option_groups
def token(
    user_id: Annotated[str, typer.Argument(help="The user id the token is for.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 30s, 15m, 1h (at most 24h).")] = "1h",
    call: Annotated[
        str | None,
        typer.Option(help="Scope the token to one call (TYPE:ID): it may join only that call."),
    ] = None,
    secrets: SecretOptions = SecretOptions(),
    logs: LogOptions = LogOptions(),
) -> None:
    """Print a signed token for USER_ID (alone on the last line)."""
    from mctui.server.tokens import issue_token, parse_duration

    _setup(logs)
    try:
        seconds = parse_duration(ttl)
    except ValueError as exc:
        _fail(str(exc))
    scope = None
    if call is not None:
        from mctui.names import RoomNameError, split_room

        try:
            kind, room = split_room(call)
        except RoomNameError as exc:
            _fail(f"--call: {exc}")
        scope = f"{kind}:{room}"
    key = _secret(secrets)
    try:
        print(issue_token(key, user_id, name or user_id, seconds, call=scope))
    except ValueError as exc:
        _fail(str(exc))


@app.command()
@with_option_groups
def invite(
    room: Annotated[str, typer.Argument(help="The room a guest may join (TYPE:ID or ID).")],
    ttl: Annotated[str, typer.Option(help="How long the link works: 30m, 2h (at most 24h).")] = (
        "2h"
    ),
    name: Annotated[str | None, typer.Option(help="The guest's display name.")] = None,
    server: Annotated[
        str, typer.Option(help="The server's address as the guest reaches it (http/https).")
    ] = "http://127.0.0.1:8470",
    secrets: SecretOptions = SecretOptions(),
    logs: LogOptions = LogOptions(),
) -> None:
    """Print a link that lets someone join ROOM from a web browser, with nothing to install.

    The link carries a guest token scoped to ROOM: the guest may join only that call (a viewer
    in a livestream), cannot end it or ring anyone, and the link stops working after --ttl."""
    from mctui.names import RoomNameError, invite_link, split_room
    from mctui.protocol import call_cid
    from mctui.server.tokens import issue_guest_token, parse_duration

    _setup(logs)
    key = _secret(secrets)
    try:
        seconds = parse_duration(ttl)
        cid = call_cid(*split_room(room))
        _, token_text = issue_guest_token(key, cid, name or "", seconds)
        link = invite_link(server, cid, token_text)
    except (ValueError, RoomNameError) as exc:
        _fail(str(exc))
    print(f"Guest link for {cid} (works for {ttl}; anyone with it can join this call):")
    print(link)
    if not _answers(server):  # the link is signed here; say if nobody serves it yet
        print(f"mctui: warning: no mctui server answers at {server} now: the link works once "
              "one runs there with the same secret", file=sys.stderr)  # fmt: skip


@app.command()
@with_option_groups
def rooms(
    server: ServerOpt = "http://127.0.0.1:8470",
    user: Annotated[
        str | None, typer.Option(help="Your user id (default: your token's, else 'me').")
    ] = None,
    token_: Annotated[
        str | None, typer.Option("--token", help="Your token (else minted from the secret).")
    ] = None,
    secrets: SecretOptions = SecretOptions(),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
    ca_file: CaFileOpt = None,
    logs: LogOptions = LogOptions(),
) -> None:
    """List the rooms running on the server that you may join."""
    import json

    from mctui.errors import MctuiError
    from mctui.launcher import list_rooms

    _setup(logs)
    _server_url(server)
    user = user or (_token_user(token_) if token_ else None) or "me"
    token_value = token_ or _mint(user, None, secrets)
    try:
        calls = _run(list_rooms(server, user, token_value, str(ca_file) if ca_file else None))
    except MctuiError as exc:
        _error(str(exc))
    if as_json:
        print(json.dumps({"rooms": [room.model_dump() for room in calls]}))
        return
    if not calls:
        print("No rooms are running.")
        return
    for room in calls:
        who = ", ".join(u.name or u.id for u in room.participants)
        minutes = int(room.running_s // 60)
        print(f"{room.cid:<32} {room.participant_count:>3} in  {minutes:>4} min  {who}".rstrip())


def _finish(code: int, reason: str | None) -> NoReturn:
    if code and reason:
        _error(reason, code)
    raise typer.Exit(code)


@app.command()
@with_option_groups
def join(
    rooms: Annotated[list[str], typer.Argument(help="Rooms to join (type:name for livestream:).")],
    server: ServerOpt = "http://127.0.0.1:8470",
    user: Annotated[
        str | None, typer.Option(help="Your user id (default: your token's, else 'me').")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Your display name.")] = None,
    token_: Annotated[
        str | None, typer.Option("--token", help="Your token (else minted from the secret).")
    ] = None,
    secrets: SecretOptions = SecretOptions(),
    policy: Annotated[Policy, typer.Option(help="Multicall audio policy.")] = (
        Policy.SUSPEND_EXISTING
    ),
    single_call: Annotated[
        bool, typer.Option("--single-call", help="Only one active call at a time.")
    ] = False,
    audio_profile: Annotated[
        AudioProfile,
        typer.Option(help="broadcaster: voice processing; viewer: listen; hifi: stereo, raw."),
    ] = AudioProfile.BROADCASTER,
    audio_backend: BackendOpt = None,
    input_device: Annotated[str | None, typer.Option(help="Input device name or index.")] = None,
    output_device: Annotated[str | None, typer.Option(help="Output device name or index.")] = None,
    input_wav: Annotated[Path | None, typer.Option(help="Read the mic from this WAV.")] = None,
    output_wav: Annotated[Path | None, typer.Option(help="Record the speaker mix.")] = None,
    echo_cancellation: Annotated[
        bool | None,
        typer.Option(
            "--echo-cancellation/--no-echo-cancellation",
            help="Cancel the speaker's echo in the mic (off for a headset).",
        ),
    ] = None,
    record_dir: Annotated[
        Path | None,
        typer.Option(help="Where recordings go (w / record ROOM on; [recording] dir)."),
    ] = None,
    headless: Annotated[bool, typer.Option(help="No UI: JSON events out, commands in.")] = False,
    events: Annotated[str, typer.Option(help="Where headless events go ('-' = stdout).")] = "-",
    ice: IceOptions = IceOptions(),
    net: ClientNetOptions = ClientNetOptions(),
    logs: LogOptions = LogOptions(),
) -> None:
    """Join ROOMS and open the terminal UI (or run headless)."""
    settings = _setup(logs)
    _rooms(rooms)
    _server_url(server)
    if input_wav is not None and not input_wav.exists():
        _fail(f"--input-wav {input_wav} does not exist")
    from platformdirs import user_state_path

    from mctui.audio.config import AudioConfigurationPolicy
    from mctui.engine import Client, ClientOptions, MultiCallAudioPolicy, User
    from mctui.errors import MctuiError
    from mctui.launcher import audio_device, run_client

    user = user or (_token_user(token_) if token_ else None) or "me"
    token_value = token_ or _mint(user, name, secrets)
    try:
        device = audio_device(
            settings, audio_backend, input_device, output_device, input_wav, output_wav
        )
    except MctuiError as exc:
        _fail(str(exc))
    options = ClientOptions(
        allow_multiple_active_calls=not single_call,
        multi_call_audio_policy=MultiCallAudioPolicy(policy.name.lower()),
        audio_configuration_policy=getattr(AudioConfigurationPolicy, audio_profile.value)(),
        audio_device=device,
        ice_servers=_ice_servers(settings, ice),
        reconnect_timeout_s=_reconnect_timeout(settings, net.reconnect_timeout),
        ca_file=net.ca_path,
        echo_cancellation=(
            echo_cancellation
            if echo_cancellation is not None
            else settings.audio.echo_cancellation == "on"
        ),
        volumes_file=str(user_state_path("mctui") / "volumes.json"),
        room_pans={room: s.pan for room, s in settings.rooms.items() if s.pan is not None},
        record_dir=str(record_dir or settings.recording.dir or "") or None,
        ring=settings.audio.ring.value,
        ring_volume_db=settings.audio.ring_volume_db,
    )
    client = Client(server, User(user, name or user), token_value, options)

    async def connect() -> Client:
        await client.connect(retry=True)
        return client

    try:
        code, reason = run_client(
            connect,
            rooms,
            headless=headless,
            events=events,
            keymap=settings.keys,
            log_path=_Run.log_path,
            connecting=client,
            notifications=settings.audio.notifications,
        )
    except OSError as exc:
        _fail(f"cannot write events to {events}: {exc.strerror or exc}")
    _finish(code, reason)


@app.command()
@with_option_groups
def bot(
    room: Annotated[str, typer.Argument(help="Room to join (type:name for livestream:).")],
    server: ServerOpt = "http://127.0.0.1:8470",
    user: Annotated[str | None, typer.Option(help="The bot's user id.")] = None,
    token_: Annotated[str | None, typer.Option("--token", help="The bot's token.")] = None,
    secrets: SecretOptions = SecretOptions(),
    tone: Annotated[float | None, typer.Option(min=20, max=20000, help="Play a tone (Hz).")] = None,
    speech: Annotated[bool, typer.Option(help="Speech-like bursts with pauses.")] = False,
    ice: IceOptions = IceOptions(),
    net: ClientNetOptions = ClientNetOptions(),
    logs: LogOptions = LogOptions(),
) -> None:
    """Run a synthetic participant in ROOM until Ctrl-C or SIGTERM (it reconnects by itself;
    exit code 1 if the server stays away longer than the reconnect timeout)."""
    settings = _setup(logs, stderr=True)
    ice_servers = _ice_servers(settings, ice)
    if tone is not None and speech:
        _fail("choose --tone or --speech, not both")
    _rooms([room])
    _server_url(server)
    from mctui.engine.rooms import parse_room

    call_type, name = parse_room(room)
    user_id = user or (f"bot-{int(tone)}hz" if tone else "bot-speech")
    token_value = token_ or _mint(user_id, None, secrets)
    from mctui.bots.runner import BotSpec, run_bot

    spec = BotSpec(
        server, user_id, token_value, call_type, name, tone, speech or not tone, ice_servers,
        _reconnect_timeout(settings, net.reconnect_timeout), net.ca_path,
    )  # fmt: skip
    failure = _run(run_bot(spec, lambda: print(f"bot {user_id} in {name}", flush=True)))
    if failure is not None:
        _error(failure)


@app.command()
@with_option_groups
def demo(
    scenario_name: Annotated[Scenario, typer.Argument(help="Which scenario.")] = (
        Scenario.MULTICALL
    ),
    headless: Annotated[bool, typer.Option(help="No UI: JSON events out, commands in.")] = False,
    audio_backend: BackendOpt = None,
    input_wav: Annotated[Path | None, typer.Option(help="Read the mic from this WAV.")] = None,
    output_wav: Annotated[Path | None, typer.Option(help="Record the speaker mix.")] = None,
    ring_after: Annotated[
        float, typer.Option(min=0.0, help="livestream: seconds before the friend rings.")
    ] = 5.0,
    call_seconds: Annotated[
        float, typer.Option(min=0.5, help="livestream: length of the 1:1 after you accept.")
    ] = 20.0,
    sfu: Annotated[SfuKind, typer.Option(help="The demo server's SFU.")] = SfuKind.EMBEDDED,
    janus: JanusOpt = None,
    janus_admin_key: JanusKeyOpt = None,
    logs: LogOptions = LogOptions(),
) -> None:
    """Start the embedded server with speaking bots and join as you (no set-up needed)."""
    from mctui.demo import DemoBackendProcess, patch_rooms, scenario
    from mctui.engine import Client, ClientOptions, MultiCallAudioPolicy, User
    from mctui.errors import MctuiError
    from mctui.launcher import audio_device, run_client

    settings = _setup(logs)
    if input_wav is not None and not input_wav.exists():
        _fail(f"--input-wav {input_wav} does not exist")
    chosen = scenario(scenario_name.value)
    try:
        device = audio_device(settings, audio_backend, None, None, input_wav, output_wav)
    except MctuiError as exc:
        _fail(str(exc))
    if sfu is SfuKind.JANUS and not janus:
        _fail("--sfu janus needs at least one --janus ws://HOST:8188")
    sfu_args = [f"--sfu={sfu.value}", *(f"--janus={url}" for url in janus or [])]
    if janus_admin_key:
        sfu_args.append(f"--janus-admin-key={janus_admin_key}")
    child = DemoBackendProcess(chosen.name, ring_after, call_seconds, _Run.log_path, sfu_args)

    async def connect() -> Client:
        url, token_value = await child.start()
        options = ClientOptions(
            multi_call_audio_policy=MultiCallAudioPolicy(chosen.policy),
            audio_device=device,
            room_pans=chosen.pans,
        )
        client = Client(url, User("you", "You"), token_value, options)
        await client.connect(retry=True)
        return client

    try:
        code, reason = run_client(
            connect,
            chosen.rooms,
            headless=headless,
            keymap=settings.keys,
            log_path=_Run.log_path,
            after_ready=lambda client: patch_rooms(client, chosen.transmit),
        )
    finally:
        child.stop()
    _finish(code, reason)


@app.command("demo-backend", hidden=True)
def demo_backend(
    scenario_name: Annotated[str, typer.Argument()],
    ring_after: Annotated[float, typer.Option()] = 5.0,
    call_seconds: Annotated[float, typer.Option()] = 20.0,
    port: Annotated[int, typer.Option()] = 0,
    sfu: Annotated[SfuKind, typer.Option()] = SfuKind.EMBEDDED,
    janus: JanusOpt = None,
    janus_admin_key: JanusKeyOpt = None,
    log_file: LogFileOpt = None,
) -> None:
    """(internal) The demo's server and bots; started (again) and stopped by ``mctui demo``."""
    from mctui.demo import run_backend
    from mctui.errors import MctuiError
    from mctui.server.sfu_factory import make_sfu

    _setup(LogOptions(log_file=log_file))
    backend = make_sfu(sfu.value, None, janus, janus_admin_key)
    try:
        _run(run_backend(scenario_name, ring_after, call_seconds, port, backend))
    except MctuiError as exc:  # a bot could not join (no Janus there ...): say so in one line
        log.debug("the demo backend failed", exc_info=True)
        _error(str(exc))


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
@with_option_groups
def devices(
    logs: LogOptions = LogOptions(),
) -> None:
    """List audio input and output devices and the defaults, and the mic's processing."""
    from mctui.audio.apm import processing_summary
    from mctui.audio.sounddevice_backend import describe_devices
    from mctui.errors import NoAudioDeviceError

    settings = _setup(logs)
    print(processing_summary(settings.audio.echo_cancellation == "on"))
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
    """Entry point: the command's exit code; one line for every error (2 for bad arguments)."""
    try:
        code = app(standalone_mode=False)
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
    except Exception as exc:  # a bug: one line here, the traceback in the log
        log.exception("mctui crashed")
        where = f" (details in {_Run.log_path})" if _Run.log_path else ""
        print(f"mctui: error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
