"""The client: one connection to the coordinator, the shared audio session, and the calls.

The client owns the connection state and the ringing list; the focus manager (``engine/focus``)
owns the active calls, the policy and the focus. Calls reach the client through the ``CallHost``
methods below; server events reach a call through ``Call.handle_event``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mctui import protocol as p
from mctui.audio.config import AudioConfigurationPolicy
from mctui.audio.devices import resolve_backend
from mctui.audio.ringer import Ringer
from mctui.audio.session import AudioSession
from mctui.engine.call import Call
from mctui.engine.client_state import ClientState
from mctui.engine.focus import FocusManager
from mctui.engine.policies import AudioPreview
from mctui.engine.reconnect import Backoff, wait_before_retry
from mctui.engine.signaling import SignalingChannel, WebSocketSignaling
from mctui.engine.state import ClientConnection, StateWriter
from mctui.engine.types import (
    CallPreferences,
    CallType,
    ClientOptions,
    MultiCallAudioPolicy,
    User,
)
from mctui.engine.volumes import RoomVolumes
from mctui.errors import (
    AuthError,
    ConnectionLostError,
    InvalidStateError,
    MctuiError,
    NotConnectedError,
    PermissionDeniedError,
    ServerUnreachableError,
    VersionMismatchError,
)
from mctui.logs import CONSOLE
from mctui.network import LOOPBACK, NetworkPolicy
from mctui.protocol import RequestModel, ResultT

log = logging.getLogger(__name__)

SignalingFactory = Callable[[str, float], SignalingChannel]
LEVEL_EVERY_FRAMES = 2  # participants' levels reach call.state at 25 Hz
STATS_EVERY_TICKS = 25  # receive counters once a second
REPLAY_EVERY_TICKS = 6  # a replay's progress about 4 times a second


class Client:
    """A user's connection to an mctui server, holding any number of calls."""

    def __init__(
        self,
        url: str,
        user: User,
        token: str,
        options: ClientOptions | None = None,
        *,
        signaling_factory: SignalingFactory | None = None,
    ) -> None:
        self.url = url
        self._user = user
        self.token = token
        self._options = options or ClientOptions()
        self.state = ClientState()
        self._w = StateWriter(self.state)
        self.focus = FocusManager(self._w, self._options)
        self._signaling_factory: SignalingFactory = signaling_factory or partial(
            WebSocketSignaling, ca_file=self._options.ca_file
        )
        self._signaling: SignalingChannel | None = None
        self._calls: dict[str, Call] = {}
        self._incoming: list[Call] = []
        self._audio: AudioSession | None = None
        volumes_file = self._options.volumes_file
        self._volumes = RoomVolumes(Path(volumes_file) if volumes_file else None)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._network: NetworkPolicy | None = None
        self._ticks = 0
        #: Lets the server hand this client its calls back after a dropped connection.
        self._resume_id = secrets.token_urlsafe(18)
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()  # lost channels being closed
        self.backoff = Backoff()
        #: Set when reconnecting gave up: what to raise or show.
        self.connection_error: ConnectionLostError | None = None

    @property
    def user(self) -> User:
        return self._user

    @property
    def options(self) -> ClientOptions:
        return self._options

    @property
    def network(self) -> NetworkPolicy:
        """What the calls' peer connections offer: the address that reaches the server (or the
        options' own list) and the options' ICE servers."""
        if self._network is None:
            options = self._options
            if options.local_addresses is not None:
                self._network = NetworkPolicy(
                    options.local_addresses, None, options.ice_servers, options.trickle_ice
                )
            else:
                host = urlsplit(self.url).hostname or LOOPBACK
                self._network = NetworkPolicy.toward(host, options.ice_servers, options.trickle_ice)
        return self._network

    def network_for(self, media_host: str) -> NetworkPolicy:
        """The policy for a media server at ``media_host`` (a Janus on another machine): the
        address that routes there; the coordinator's when the server names none."""
        options = self._options
        if not media_host or options.local_addresses is not None:
            return self.network
        return NetworkPolicy.toward(media_host, options.ice_servers, options.trickle_ice)

    # --- connection ---------------------------------------------------------------------------

    async def connect(self, *, retry: bool = False) -> None:
        """Connect and authenticate; raises ``ServerUnreachableError`` or ``AuthError``.

        ``retry``: a server that cannot be reached is tried again with the reconnect backoff
        for up to ``reconnect_timeout_s`` (``state.reconnect_attempt`` and
        ``state.connection_reason`` say how it goes) before the last error is raised.
        """
        if self._signaling is not None and not self._signaling.closed:
            return
        self._closing = False
        self.connection_error = None
        self._w.set(ClientState.connection, ClientConnection.CONNECTING)
        budget = self.options.reconnect_timeout_s if retry else 0.0
        try:
            signaling, _ = await self._open_with_retry(budget, first_at_once=True)
        except BaseException:
            self._w.set(ClientState.reconnect_attempt, 0)
            self._w.set(ClientState.connection_reason, None)
            self._w.set(ClientState.connection, ClientConnection.DISCONNECTED)
            raise
        self._connected(signaling)

    async def _open_with_retry(
        self, budget_s: float, *, first_at_once: bool
    ) -> tuple[SignalingChannel, bool]:
        """Open a channel, retrying with backoff for ``budget_s`` while the server cannot be
        reached (or is full); errors that retrying cannot fix (token, version) are raised at
        once, and the last error when the time is up. Attempts and their failures are
        published in ``state.reconnect_attempt`` / ``state.connection_reason``."""
        deadline = time.monotonic() + max(0.0, budget_s)
        attempt, unreachable = 0, True
        last_error: MctuiError | None = None  # the last real attempt's, as the cause
        while True:
            attempt += 1
            self._w.set(ClientState.reconnect_attempt, attempt)
            patience = self.options.connect_timeout_s
            if attempt > 1 or not first_at_once:  # a retry: wait first, within the budget
                delay = min(self.backoff.delay(attempt), max(0.0, deadline - time.monotonic()))
                why = await wait_before_retry(self.url, delay, probe=unreachable)
                if why is not None:
                    reason = f"cannot reach the server at {self.url} ({why})"
                    if time.monotonic() >= deadline:
                        message = self.state.connection_reason or reason
                        raise ServerUnreachableError(message) from last_error
                    self._w.set(ClientState.connection_reason, reason)
                    continue
                patience = max(0.1, min(patience, deadline - time.monotonic()))
            try:
                return await self._open_signaling(patience)
            except (AuthError, PermissionDeniedError, VersionMismatchError, InvalidStateError):
                raise  # retrying cannot help
            except MctuiError as exc:
                if time.monotonic() >= deadline:
                    raise
                unreachable = isinstance(exc, ServerUnreachableError)
                last_error = exc
                self._w.set(ClientState.connection_reason, exc.message)
                log.info("connection attempt %d failed: %s", attempt, exc.message)

    async def _open_signaling(self, patience: float) -> tuple[SignalingChannel, bool]:
        """A new authenticated channel (resuming this client's calls if the server kept them)
        and whether it resumed; ``ServerUnreachableError`` after ``patience`` seconds."""
        signaling = self._signaling_factory(self.url, self.options.request_timeout_s)
        signaling.keepalive_s = self.options.keepalive_s
        try:
            async with asyncio.timeout(patience):
                hello = await signaling.open(self.token, self._resume_id)
        except TimeoutError:
            await signaling.close()
            raise ServerUnreachableError(
                f"no answer from the server at {self.url} within {patience:g} s"
            ) from None
        if hello.user.id != self.user.id:
            await signaling.close()
            raise InvalidStateError(
                f"the token is for user {hello.user.id!r}, not {self.user.id!r}"
            )
        return signaling, hello.resumed

    def _connected(self, signaling: SignalingChannel) -> None:
        """``signaling`` is the client's channel now: its events come here, its loss starts a
        reconnect, and the state says CONNECTED with no attempt under way."""
        signaling.set_event_handler(self._on_event)
        signaling.set_closed_handler(lambda: self._on_signaling_closed(signaling))
        self._signaling = signaling
        self._w.set(ClientState.reconnect_attempt, 0)
        self._w.set(ClientState.connection_reason, None)
        self._w.set(ClientState.connection, ClientConnection.CONNECTED)

    async def disconnect(self) -> None:
        """Leave every call, close the audio device and the connection.

        The calls leave without the policy resuming one another on the way out.
        """
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        self.focus.quiet = True
        try:
            for call in list(reversed(self.state.active_calls)):
                with contextlib.suppress(MctuiError):
                    await call.leave()
        finally:
            self.focus.quiet = False
        for task in list(self._tasks):
            task.cancel()
        if self._retiring:
            await asyncio.wait(list(self._retiring), timeout=3.0)
        signaling, self._signaling = self._signaling, None
        if signaling is not None:
            await signaling.close()
        if self._audio is not None:
            await self._audio.close()
            self._audio = None
        self._w.set(ClientState.connection, ClientConnection.DISCONNECTED)

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # --- staying connected --------------------------------------------------------------------

    def _on_signaling_closed(self, signaling: SignalingChannel) -> None:
        if signaling is not self._signaling:
            return
        if self._closing:
            self._w.set(ClientState.connection, ClientConnection.DISCONNECTED)
            return
        reason = signaling.close_reason or "connection closed"
        log.warning("lost the connection to %s (%s); reconnecting", self.url, reason)
        self._reconnecting = asyncio.get_running_loop().create_task(
            self._reconnect(reason), name="client-reconnect"
        )

    async def _reconnect(self, reason: str) -> None:
        """Reconnect with backoff until ``reconnect_timeout_s``, then rejoin every active call.

        The calls go RECONNECTING at once and keep their audio mode, mute wish, hand suspension
        and the focus: nothing about them is decided again. A server that kept our place
        (``resumed``) only resyncs; one that restarted gets each call recreated.
        """
        lost_at = time.monotonic()
        deadline = lost_at + max(0.0, self.options.reconnect_timeout_s)
        old = self._signaling
        self._w.set(ClientState.connection_reason, reason)
        self._w.set(ClientState.connection, ClientConnection.RECONNECTING)
        for call in self.state.active_calls:
            call.connection_lost()
        try:
            signaling, resumed = await self._open_with_retry(
                deadline - time.monotonic(), first_at_once=False
            )
        except MctuiError as exc:
            await self._give_up(exc.message)
            return
        attempts = self.state.reconnect_attempt
        self._connected(signaling)
        if old is not None:  # after the resume its close changes nothing; it may take a while
            retire = asyncio.get_running_loop().create_task(old.close(), name="signaling-retire")
            self._retiring.add(retire)
            retire.add_done_callback(self._retiring.discard)
        await asyncio.gather(*(c.rejoin(resumed) for c in list(self.state.active_calls)))
        downtime = time.monotonic() - lost_at
        log.info(
            "reconnected to %s after %.2f s (attempt %d, %s)", self.url, downtime, attempts,
            "calls resumed" if resumed else "calls recreated", extra=CONSOLE,
        )  # fmt: skip
        self._w.set(ClientState.last_outage_s, None)  # two equal outages are two events
        self._w.set(ClientState.last_outage_s, downtime)
        self._reconnecting = None

    async def _give_up(self, cause: str) -> None:
        """Reconnecting failed: every call is LEFT with the cause, the client DISCONNECTED."""
        self._reconnecting = None
        error = ConnectionLostError(f"lost the connection to the server at {self.url}: {cause}")
        self.connection_error = error
        log.error("%s", error.message)
        self.focus.quiet = True
        try:
            for call in list(reversed(self.state.active_calls)):
                await call.lose(f"connection lost: {cause}")
        finally:
            self.focus.quiet = False
        self._w.set(ClientState.reconnect_attempt, 0)
        self._w.set(ClientState.connection_reason, error.message)
        self._w.set(ClientState.connection, ClientConnection.DISCONNECTED)

    async def update_token(self, token: str) -> None:
        """Hand the server a fresh token for this user, mid-call (before or after the old one
        expires; requests made with an expired token fail with ``AuthError`` saying so)."""
        await self.request(p.UpdateTokenRequest, token=token)
        self.token = token

    async def request(self, kind: type[RequestModel[ResultT]], **fields: Any) -> ResultT:
        """Send one request to the coordinator; its reply parsed into the result model ``kind``
        names (typed errors)."""
        if self._signaling is None:
            raise NotConnectedError("not connected: call `await client.connect()` first")
        if self.state.connection is ClientConnection.RECONNECTING and self._signaling.closed:
            raise NotConnectedError("reconnecting to the server: try again in a moment")
        return await self._signaling.request(kind, **fields)

    @property
    def volumes(self) -> RoomVolumes:
        """Each room's volume (``call.set_volume_db``), kept across runs with a volumes file."""
        return self._volumes

    @property
    def audio(self) -> AudioSession:
        """The shared audio session (device + mixer), opened at first use."""
        if self._audio is None or self._audio.closed:
            backend = resolve_backend(self.options.audio_device)
            self._audio = AudioSession(backend, self.options.echo_cancellation)
            self._audio.add_frame_listener(self._on_audio_tick, every=LEVEL_EVERY_FRAMES)
            self._audio.add_notice_listener(self._on_audio_notice)
            self._audio.add_error_listener(self._on_audio_error)
            if backend.notice:
                self._on_audio_notice(backend.notice)
        return self._audio

    def _on_audio_error(self, message: str) -> None:
        log.error("%s", message)
        self._w.set(ClientState.audio_error, message)

    def _on_audio_notice(self, notice: str) -> None:
        log.warning("%s", notice)
        self._w.set(ClientState.audio_notice, notice)

    def _on_audio_tick(self) -> None:
        self._ticks += 1
        stats_now = self._ticks % STATS_EVERY_TICKS == 0
        replay_now = self._ticks % REPLAY_EVERY_TICKS == 0
        for call in self.state.active_calls:
            call.refresh_participants()
            if replay_now:
                call.refresh_replay()
            if stats_now:
                call.refresh_stats()
                call.refresh_activity()

    # --- calls --------------------------------------------------------------------------------

    async def list_calls(self) -> list[p.RoomInfo]:
        """The room directory: the running calls this user may join (a guest: its own), the
        busiest first, with how many are in each and, in calls it is a member of, who."""
        result = await self.request(p.ListCallsRequest)
        return result.calls

    def make_call(
        self,
        call_type: CallType | str,
        call_id: str,
        preferences: CallPreferences | None = None,
    ) -> Call:
        """The ``Call`` object for ``type:id`` (the same object each time for the same call)."""
        cid = p.call_cid(CallType(call_type).value, call_id)
        call = self._calls.get(cid)
        if call is None:
            call = Call(self, CallType(call_type), call_id, preferences)
            self._calls[cid] = call
        elif preferences is not None:
            call.preferences = preferences
        return call

    @property
    def multi_call_audio_policy(self) -> MultiCallAudioPolicy:
        return self.focus.policy

    @property
    def voice_label(self) -> str:
        """The default audio profile and its echo canceller, for the status line:
        ``broadcaster AEC``, ``broadcaster no-AEC`` (off, or the APM is unavailable), ``hifi``."""
        profile = self.options.audio_configuration_policy or AudioConfigurationPolicy.broadcaster()
        if not profile.voice_processing:
            return profile.name
        audio = self._audio  # not ``self.audio``: reading the label opens no device
        if audio is not None and audio.voice_unavailable:
            return f"{profile.name} unprocessed"
        on = audio.state.echo_cancellation == "on" if audio else self.options.echo_cancellation
        return f"{profile.name} {'AEC' if on else 'no-AEC'}"

    def set_multi_call_audio_policy(self, kind: MultiCallAudioPolicy) -> None:
        """Switch policy at run time; the focused call keeps the audio, the others follow the
        new policy's background mode (a call suspended by hand stays suspended)."""
        self.focus.set_policy(kind)

    def preview_set_active(self, call: Call) -> AudioPreview:
        """What joining or accepting ``call`` would do to the other calls' audio, now."""
        return self.focus.preview(call)

    async def set_active_call(self, call: Call) -> None:
        """Add ``call`` to the active calls and let the policy arrange the audio."""
        await self.focus.set_active(call, leave=lambda other: other.leave())

    async def remove_active_call(self, call: Call) -> None:
        """Remove ``call`` from the active calls and let the policy arrange the audio."""
        self.focus.remove_active(call)

    async def switch_focus(self, from_call: Call | None, to_call: Call) -> None:
        """Move the microphone and speaker from ``from_call`` to ``to_call`` in one step.

        Order: close the mic on ``from``, suspend (or duck) ``from``, resume ``to``, open the mic
        on ``to`` (as the cookbook's ``switchFocus`` does) unless the user muted ``to`` by hand.
        A mic disabled at join by ``ConnectOptions`` is not a hand mute, so a room joined in the
        background is live once it takes focus. The speaker is released before it is claimed, so
        there is never a moment with both calls holding it at full volume, and listeners see one
        focus change (A -> B).
        """
        await self.focus.switch_focus(from_call, to_call)

    # --- CallHost: what calls ask of their client ----------------------------------------------

    def take_audio(self, call: Call) -> None:
        self.focus.resume(call)

    def suspend_by_user(self, call: Call) -> None:
        self.focus.suspend_by_user(call)

    def ring_cleared(self, call: Call) -> None:
        if call in self._incoming:
            self._incoming.remove(call)
        self._w.set(ClientState.incoming_call, self._incoming[-1] if self._incoming else None)
        if not self._incoming and self._audio is not None:
            self._audio.stop_ring()

    def _ring_sound(self) -> None:
        """An incoming call: its ring on the speaker (``options.ring``), from the start."""
        if self.options.ring != "off":
            ringer = Ringer(self.options.ring, self.options.ring_volume_db)
            self.spawn(self.audio.ring(ringer))

    def place_rooms(self) -> None:
        self.focus.place_rooms()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- events from the server ---------------------------------------------------------------

    def _on_event(self, event: p.Event) -> None:
        if isinstance(event, p.CallRingEvent):
            self._on_ring(event)
            return
        call = self._calls.get(event.cid)  # every other event is about one call
        if call is not None:
            call.handle_event(event)

    def _on_ring(self, event: p.CallRingEvent) -> None:
        call = self.make_call(CallType(event.call.type), event.call.id)
        if self.options.reject_call_when_busy and self.state.active_calls:
            call.info = event.call
            self.spawn(self._reject_busy(call))
            return
        call.handle_event(event)
        if call in self._incoming:
            self._incoming.remove(call)
        self._incoming.append(call)
        self._w.set(ClientState.incoming_call, call)
        self._ring_sound()

    async def _reject_busy(self, call: Call) -> None:
        with contextlib.suppress(MctuiError):
            await self.request(p.RejectCallRequest, cid=call.cid, reason="busy")
