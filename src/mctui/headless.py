"""Headless mode: one JSON object per line out, simple commands in.

Events: ``joined``, ``left`` (with a ``reason``), ``focus``, ``suspended``, ``resumed``, ``ducked``,
``ring``, ``level`` (per participant of every room, suspended ones included, at most 10 Hz, with
``heard``: whether the user hears that participant now), ``stats``, ``participant_joined``,
``participant_left`` (with a ``reason``), ``participant_away`` (``away``: their connection is lost,
their place kept), ``connecting`` (an attempt at start that failed), ``reconnecting`` (each attempt,
with the ``reason``), ``reconnected`` (with the ``downtime_s``), ``notice``, ``error``, ``ready``,
``bye``.
Commands (one per line on stdin): ``focus ROOM``, ``mute ROOM``, ``unmute ROOM``, ``leave ROOM``,
``join ROOM``, ``suspend ROOM``, ``resume ROOM``, ``accept``, ``reject``, ``quit``. End of input
just means no more commands; the session runs until ``quit``, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import IO, Any

from mctui.engine import Call, Client
from mctui.engine.bridge import (
    AudioModeChanged,
    BridgeEvent,
    CallChanged,
    CallJoined,
    CallLeft,
    ConnectionChanged,
    EngineBridge,
    FocusChanged,
    Notice,
    ParticipantAway,
    ParticipantJoined,
    ParticipantLeft,
    Reconnected,
    RingChanged,
)
from mctui.engine.pauses import PauseGuard
from mctui.engine.rooms import join_rooms, leave_room, parse_room
from mctui.engine.state import CallConnection, ClientConnection
from mctui.errors import MctuiError
from mctui.shutdown import stop_on_signals

log = logging.getLogger(__name__)

LEVEL_INTERVAL_S = 0.1
STATS_EVERY = 10  # level rounds: once a second


class EventWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, event: str, **fields: Any) -> None:
        record = {"event": event, "t": round(time.monotonic() - self.started, 3), **fields}
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """A daemon thread: stdin may be a pipe, a file or a terminal; this reads any of them."""

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="headless-stdin", daemon=True).start()


class HeadlessSession:
    """Runs a connected client without a UI: the engine bridge's events become JSON lines."""

    def __init__(self, client: Client, emit: EventWriter) -> None:
        self.client = client
        self.emit = emit
        self.done = asyncio.Event()
        self.bridge = EngineBridge(client, self._on_event)
        self.pauses = PauseGuard()
        #: Set when the session ends because the connection was lost for good.
        self.failure: str | None = None
        #: Calls said ``joined``: a join the server refused is never one, nor says ``left``.
        self._announced: set[str] = set()
        #: Per room: whether the mic is patched in, as last reported.
        self._transmitting: dict[str, bool] = {}
        #: Per room: the activity last reported (speaking, last speaker, unheard).
        self._activity_seen: dict[str, tuple[bool, str | None, bool]] = {}

    def start(self) -> None:
        self.bridge.start()

    def _on_event(self, event: BridgeEvent) -> None:
        self.pauses.observe(event)
        match event:
            case CallJoined(call=call) | CallChanged(call=call) if (
                call.cid not in self._announced and call.state.connection is CallConnection.JOINED
            ):
                self._announced.add(call.cid)
                self.emit("joined", room=call.id, type=call.type.value)
                if self.client.state.focused_call is call:  # it took the focus while joining
                    self.emit("focus", room=call.id)
            case CallChanged(call=call) if call.state.transmit != self._transmitting.get(
                call.cid, False
            ):
                self._transmitting[call.cid] = call.state.transmit
                self.emit("transmit", room=call.id, on=call.state.transmit)
            case CallLeft(call=call) if call.cid in self._announced:
                self._announced.discard(call.cid)
                self.emit("left", room=call.id, reason=call.state.left_reason or "left")
            case ParticipantJoined(call=call, user_id=user_id):
                name = next((p.user.display_name for p in call.state.remote_participants
                             if p.user.id == user_id), user_id)  # fmt: skip
                self.emit("participant_joined", room=call.id, participant=user_id, name=name)
            case ParticipantLeft(call=call, user_id=user_id, reason=reason):
                self.emit("participant_left", room=call.id, participant=user_id, reason=reason)
            case ParticipantAway(call=call, user_id=user_id, away=away):
                self.emit("participant_away", room=call.id, participant=user_id, away=away)
            case ConnectionChanged(connection=ClientConnection.RECONNECTING, attempt=n) if n:
                self.emit("reconnecting", attempt=n, reason=self.client.state.connection_reason)
            case ConnectionChanged(connection=ClientConnection.DISCONNECTED):
                error = self.client.connection_error
                if error is not None and not self.done.is_set():
                    self.failure = error.message
                    self.emit("error", message=error.message, code=error.code)
                    self.done.set()
            case Reconnected(downtime_s=seconds):
                self.emit("reconnected", downtime_s=round(seconds, 3))
            case FocusChanged(current=call) if call is not None and call.cid in self._announced:
                self.emit("focus", room=call.id)
            case AudioModeChanged(call=call, mode=mode):
                name = {"suspended": "suspended", "ducked": "ducked", "focused": "resumed"}[mode]
                self.emit(name, room=call.id)
            case RingChanged(call=call) if call is not None and call.state.ringing is not None:
                preview = self.client.preview_set_active(call)
                self.emit(
                    "ring",
                    room=call.id,
                    caller=call.state.ringing.caller.id,
                    suspends=[c.id for c in preview.suspends],  # type: ignore[attr-defined]
                )
            case Notice(text=text, severity="error"):
                self.emit("error", message=text)
            case Notice(text=text):
                self.emit("notice", message=text)

    async def levels(self) -> None:
        """Participant levels at most 10 Hz, receive counters once a second (sampled from the
        engine's state)."""
        rounds = 0
        while not self.done.is_set():
            rounds += 1
            for call in self.client.state.active_calls:
                if rounds % STATS_EVERY == 0:
                    self._activity(call)
                    await self._uplink(call)
                    for participant_id, stats in call.state.receive_stats.items():
                        self.emit(
                            "stats",
                            room=call.id,
                            participant=participant_id,
                            received=stats.received,
                            played=stats.played,
                            concealed=stats.concealed,
                            late=stats.late,
                            repaired=stats.repaired,
                        )
                for participant in call.state.remote_participants:
                    self.emit(
                        "level",
                        room=call.id,
                        participant=participant.user.id,
                        dbfs=round(participant.audio_level, 1),
                        speaking=participant.is_speaking,
                        heard=participant.heard,
                    )
            await asyncio.sleep(LEVEL_INTERVAL_S)

    def _activity(self, call: Call) -> None:
        """An ``activity`` event when a room's speech starts or stops, its last speaker
        changes, or it gets (or loses) unheard speech."""
        activity = call.state.activity
        key = (activity.seconds[-1], activity.last_speaker, activity.unheard)
        if self._activity_seen.get(call.cid) == key:
            return
        self._activity_seen[call.cid] = key
        ago = activity.last_spoke_ago()
        self.emit(
            "activity", room=call.id, speaking=activity.seconds[-1],
            last=activity.last_speaker, ago_s=None if ago is None else round(ago, 1),
            unheard=activity.unheard, speech_s=sum(activity.seconds),
        )  # fmt: skip

    async def _uplink(self, call: Call) -> None:
        """What the SFU's receiver reports say of what this client sends (once it said)."""
        try:
            report = await call.send_report()
        except Exception:  # a connection closing mid-read: the next round tells
            log.debug("no send report for %s", call.cid, exc_info=True)
            return
        if report is not None:
            self.emit(
                "uplink", room=call.id, sent=report.sent, lost=report.lost,
                fraction_lost=round(report.fraction_lost, 3),
                jitter_ms=round(report.jitter_ms, 1),
                rtt_ms=None if report.rtt_ms is None else round(report.rtt_ms, 1),
            )  # fmt: skip

    def _find(self, room: str) -> Call | None:
        for call in self.client.state.active_calls:
            if call.id == room or f"{call.type.value}:{call.id}" == room:
                return call
        self.emit("error", message=f"not in room {room!r}")
        return None

    async def command(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        verb, args = words[0].lower(), words[1:]
        client = self.client
        try:
            if verb == "quit":
                self.done.set()
            elif verb in ("accept", "reject"):
                incoming = client.state.incoming_call
                if incoming is None:
                    self.emit("error", message="no incoming call")
                elif verb == "accept":
                    await incoming.accept()
                else:
                    await incoming.reject(reason="decline")
            elif verb == "join" and args:
                call_type, name = parse_room(args[0])
                await client.make_call(call_type, name).join()
            elif verb == "device" and len(args) >= 2 and args[0] in ("input", "output"):
                name = " ".join(args[1:])
                device: int | str = int(name) if name.isdigit() else name
                audio = client.audio
                await audio.set_devices(**{args[0]: device})  # input= or output=
                self.emit("device", backend=audio.state.devices)
            elif verb in ROOM_SETTINGS and len(args) == 2:
                call = self._find(args[0])
                if call is not None:
                    await ROOM_SETTINGS[verb](self, call, args[1])
            elif verb in ("end", "invite") and args:
                call = self._find(args[0])
                if call is None:
                    return
                if verb == "end":
                    await call.end()
                else:
                    invite = await call.invite(name=" ".join(args[1:]))
                    self.emit("invite", room=call.id, link=invite.link, guest=invite.guest_id)
            elif verb in ("focus", "mute", "unmute", "leave", "suspend", "resume") and args:
                call = self._find(args[0])
                if call is None:
                    return
                if verb == "focus":
                    await client.switch_focus(client.state.focused_call, call)
                elif verb in ("mute", "unmute"):
                    await call.set_microphone_enabled(verb == "unmute")
                    self.emit("muted" if verb == "mute" else "unmuted", room=call.id)
                elif verb == "leave":
                    await leave_room(client, call)
                elif verb == "suspend":
                    await call.suspend_audio()
                else:
                    await call.resume_audio()
            else:
                self.emit("error", message=f"unknown command {line.strip()!r}")
        except (MctuiError, ValueError) as exc:
            self.emit("error", message=str(exc))


async def _volume(session: HeadlessSession, call: Call, value: str) -> None:
    kept = await call.set_volume_db(float(value))
    session.emit("volume", room=call.id, volume_db=kept)


async def _pan(session: HeadlessSession, call: Call, value: str) -> None:
    """``pan ROOM P`` (-1 .. 1), or ``pan ROOM auto``."""
    placed = await call.set_pan(None if value.lower() == "auto" else float(value))
    session.emit("pan", room=call.id, pan=round(placed, 3))


def _on_off(value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ValueError(f"expected on or off, not {value!r}")
    return value.lower() == "on"


async def _transmit(session: HeadlessSession, call: Call, value: str) -> None:
    """``tx ROOM on|off``: the mic into ROOM too, the focus where it is. The ``transmit``
    event comes from the change (``_on_event``); one that changes nothing says so here."""
    before = call.state.transmit
    await call.set_transmit(_on_off(value))
    if call.state.transmit == before:
        session.emit("transmit", room=call.id, on=before)


async def _replay(session: HeadlessSession, call: Call, value: str) -> None:
    """``replay ROOM SECONDS`` (the live rooms duck under it), or ``replay ROOM stop``."""
    if value.lower() in ("stop", "off"):
        await call.stop_replay()
        session.emit("replay", room=call.id, playing=False)
        return
    seconds = float(value)
    await call.replay(seconds=seconds)
    held, back = call.history_held
    session.emit(
        "replay", room=call.id, playing=True, seconds=seconds,
        history_kb=round(held / 1024, 1), history_s=round(back, 1),
    )  # fmt: skip


async def _record(session: HeadlessSession, call: Call, value: str) -> None:
    """``record ROOM on|off``: the room (left) and your mic into it (right) to an Ogg file."""
    if _on_off(value):
        path = await call.start_recording()
        session.emit("recording", room=call.id, on=True, path=str(path))
    else:
        path_text = call.state.recording
        await call.stop_recording()
        session.emit("recording", room=call.id, on=False, path=path_text)


#: ``VERB ROOM VALUE`` commands: one setting of one room each.
ROOM_SETTINGS: dict[str, Callable[[HeadlessSession, Call, str], Awaitable[None]]] = {
    "volume": _volume,
    "pan": _pan,
    "tx": _transmit,
    "replay": _replay,
    "record": _record,
}


async def run_headless(
    connect: Callable[[], Awaitable[Client]],
    rooms: list[str],
    stream: IO[str],
    *,
    after_ready: Callable[[Client], Awaitable[None]] | None = None,
    on_fatal: Callable[[str], None] | None = None,
    connecting: Client | None = None,
) -> int:
    """Run until ``quit``/signal; returns the exit code (1 if the connection failed or was lost
    for good, and then ``on_fatal`` hears why). ``connecting``: the client ``connect`` connects,
    whose failed attempts are reported as ``connecting`` events while it retries."""
    emit = EventWriter(stream)
    stop_watching = _report_attempts(connecting, emit) if connecting is not None else None
    try:
        client = await connect()
    except MctuiError as exc:
        log.debug("the connection failed", exc_info=True)  # the cause, for --log-level debug
        emit("error", message=str(exc))
        if on_fatal is not None:
            on_fatal(str(exc))
        return 1
    finally:
        if stop_watching is not None:
            stop_watching()
    session = HeadlessSession(client, emit)
    session.start()
    loop = asyncio.get_running_loop()
    stop_on_signals(session.done)
    levels = loop.create_task(session.levels())
    try:
        refused: list[str] = []

        def on_error(call: Call, exc: MctuiError) -> None:
            refused.append(f"{call.id}: {exc}")
            emit("error", room=call.id, message=str(exc))

        await join_rooms(
            client, [parse_room(r) for r in rooms], session.bridge.watch, on_error=on_error
        )
        emit("ready", rooms=[c.id for c in client.state.active_calls])
        if rooms and not client.state.active_calls:  # nothing to stay for: exit 1, say why
            session.failure = "no room could be joined (" + "; ".join(refused) + ")"
            session.done.set()
        if after_ready is not None and not session.done.is_set():
            await after_ready(client)
        commands: asyncio.Queue[str | None] = asyncio.Queue()
        _stdin_lines(loop, commands)
        done = loop.create_task(session.done.wait())
        while not session.done.is_set():
            getter = loop.create_task(commands.get())
            finished, _ = await asyncio.wait({getter, done}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in finished:
                getter.cancel()
                break
            line = getter.result()
            if line is None:  # end of input: no more commands, keep running
                await session.done.wait()
                break
            await session.command(line)
        done.cancel()
    finally:
        session.done.set()
        levels.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await levels
        await client.disconnect()
        session.bridge.close()
        emit("bye")
    if session.failure is not None:
        if on_fatal is not None:
            on_fatal(session.failure)
        return 1
    return 0


def _report_attempts(client: Client, emit: EventWriter) -> Callable[[], None]:
    """While the first connection is tried again and again, say each attempt, counted from 1,
    and (from the second on) why the one before failed."""

    def attempt(number: int) -> None:
        if number >= 1:
            reason = client.state.connection_reason if number > 1 else None
            emit("connecting", attempt=number, reason=reason)

    return client.state.observe("reconnect_attempt").listen(attempt)
