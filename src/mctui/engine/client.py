"""The client: one connection to the coordinator, the shared audio session, and the calls.

``set_active_call`` / ``remove_active_call`` keep ``state.active_calls`` and consult the multicall
policy; the policy's decisions come back through the ``suspend`` / ``duck`` / ``focus`` levers
below. Everything runs on one asyncio loop, and every policy step is synchronous, so no other task
can observe a half-applied decision (two calls holding the speaker, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from mctui import protocol as p
from mctui.audio.devices import resolve_backend
from mctui.audio.session import AudioSession
from mctui.engine.call import Call
from mctui.engine.policies import AudioPolicy, AudioPreview, PolicyCall, policy_for
from mctui.engine.signaling import SignalingChannel, WebSocketSignaling
from mctui.engine.state import AudioMode, ClientConnection, ClientState
from mctui.engine.types import (
    CallPreferences,
    CallType,
    ClientOptions,
    MultiCallAudioPolicy,
    User,
)
from mctui.errors import (
    InvalidStateError,
    MctuiError,
    NotConnectedError,
    ServerUnreachableError,
)

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)
SignalingFactory = Callable[[str, float], SignalingChannel]
LEVEL_EVERY_FRAMES = 2  # participants' levels reach call.state at 25 Hz


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
        self.user = user
        self.token = token
        self.options = options or ClientOptions()
        self.state = ClientState()
        self._signaling_factory: SignalingFactory = signaling_factory or WebSocketSignaling
        self._signaling: SignalingChannel | None = None
        self._calls: dict[str, Call] = {}
        self._policy: AudioPolicy = policy_for(self.options.multi_call_audio_policy)
        self._focus_history: list[Call] = []
        self._incoming: list[Call] = []
        self._audio: AudioSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._disconnecting = False

    # --- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and authenticate; raises ``ServerUnreachableError`` or ``AuthError``."""
        if self._signaling is not None and not self._signaling.closed:
            return
        self.state._set("connection", ClientConnection.CONNECTING)
        signaling = self._signaling_factory(self.url, self.options.request_timeout_s)
        signaling.set_event_handler(self._on_event)
        signaling.set_closed_handler(self._on_signaling_closed)
        try:
            async with asyncio.timeout(self.options.connect_timeout_s):
                server_user = await signaling.open(self.token)
        except TimeoutError:
            await signaling.close()
            self.state._set("connection", ClientConnection.DISCONNECTED)
            raise ServerUnreachableError(
                f"no answer from the server at {self.url} within "
                f"{self.options.connect_timeout_s:g} s"
            ) from None
        except BaseException:
            self.state._set("connection", ClientConnection.DISCONNECTED)
            raise
        if server_user.id != self.user.id:
            await signaling.close()
            self.state._set("connection", ClientConnection.DISCONNECTED)
            raise InvalidStateError(
                f"the token is for user {server_user.id!r}, not {self.user.id!r}"
            )
        self._signaling = signaling
        self.state._set("connection", ClientConnection.CONNECTED)

    async def disconnect(self) -> None:
        """Leave every call, close the audio device and the connection.

        The calls leave without the policy resuming one another on the way out.
        """
        self._disconnecting = True
        try:
            for call in list(reversed(self.state.active_calls)):
                with contextlib.suppress(MctuiError):
                    await call.leave()
        finally:
            self._disconnecting = False
        for task in list(self._tasks):
            task.cancel()
        signaling, self._signaling = self._signaling, None
        if signaling is not None:
            await signaling.close()
        if self._audio is not None:
            await self._audio.close()
            self._audio = None
        self.state._set("connection", ClientConnection.DISCONNECTED)

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    def _on_signaling_closed(self) -> None:
        self.state._set("connection", ClientConnection.DISCONNECTED)

    async def _request(self, kind: type[R], **fields: Any) -> dict[str, Any]:
        if self._signaling is None:
            raise NotConnectedError("not connected: call `await client.connect()` first")
        return await self._signaling.request(kind, **fields)

    @property
    def audio(self) -> AudioSession:
        """The shared audio session (device + mixer), opened at first use."""
        if self._audio is None or self._audio.closed:
            backend = resolve_backend(self.options.audio_device)
            self._audio = AudioSession(backend)
            self._audio.add_frame_listener(self._on_audio_tick, every=LEVEL_EVERY_FRAMES)
            self._audio.add_notice_listener(self._on_audio_notice)
            self._audio.add_error_listener(self._on_audio_error)
            if backend.notice:
                self._on_audio_notice(backend.notice)
        return self._audio

    def _on_audio_error(self, message: str) -> None:
        log.error("%s", message)
        self.state._set("audio_error", message)

    def _on_audio_notice(self, notice: str) -> None:
        log.warning("%s", notice)
        self.state._set("audio_notice", notice)

    def _on_audio_tick(self) -> None:
        for call in self.state.active_calls:
            call._publish_participants()

    # --- calls --------------------------------------------------------------------------------

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
        return self._policy.kind

    def set_multi_call_audio_policy(self, kind: MultiCallAudioPolicy) -> None:
        """Switch policy at run time; the focused call keeps the audio, the others follow the
        new policy's background mode (a call suspended by hand stays suspended)."""
        self.options.multi_call_audio_policy = kind
        self._policy = policy_for(kind)
        if kind is MultiCallAudioPolicy.MANUAL:
            return
        focused = self.state.focused_call
        if focused is None:
            return
        for call in self.state.active_calls:
            if call is not focused and not call.suspended_by_user:
                call._set_mode(self._policy.background_mode)

    def preview_set_active(self, call: Call) -> AudioPreview:
        """What joining or accepting ``call`` would do to the other calls' audio, now."""
        if not self.options.allow_multiple_active_calls:
            return AudioPreview(leaves=tuple(c for c in self.state.active_calls if c is not call))
        if call in self.state.active_calls:
            return AudioPreview()
        return self._policy.preview(self, call)

    async def set_active_call(self, call: Call) -> None:
        """Add ``call`` to the active calls and let the policy arrange the audio."""
        await self._set_active_call(call)

    async def remove_active_call(self, call: Call) -> None:
        """Remove ``call`` from the active calls and let the policy arrange the audio."""
        await self._remove_active_call(call)

    async def _set_active_call(self, call: Call) -> None:
        if call in self.state.active_calls:
            return  # already active: never a duplicate
        if not self.options.allow_multiple_active_calls:
            for other in self.state.active_calls:
                if other is not call:
                    await other.leave()
            if call in self.state.active_calls:
                return
        self.state._set("active_calls", [*self.state.active_calls, call])
        self._policy.on_set_active(self, call)
        self._refresh_focus()

    async def _remove_active_call(self, call: Call) -> None:
        if call not in self.state.active_calls:
            return
        self.state._set("active_calls", [c for c in self.state.active_calls if c is not call])
        if call in self._focus_history:
            self._focus_history.remove(call)
        if not self._disconnecting:
            self._policy.on_remove_active(self, call)
        self._refresh_focus()

    async def switch_focus(self, from_call: Call | None, to_call: Call) -> None:
        """Move the microphone and speaker from ``from_call`` to ``to_call`` in one step.

        Order: close the mic on ``from``, suspend (or duck) ``from``, resume ``to``, open the mic
        on ``to`` (as the cookbook's ``switchFocus`` does) unless the user muted ``to`` by hand.
        A mic disabled at join by ``ConnectOptions`` is not a hand mute, so a room joined in the
        background is live once it takes focus. The speaker is released before it is claimed, so
        there is never a moment with both calls holding it at full volume.
        """
        if to_call not in self.state.active_calls:
            raise InvalidStateError(f"{to_call.cid} is not an active call: join it first")
        if (
            from_call is not None
            and from_call is not to_call
            and from_call in self.state.active_calls
        ):
            from_call._close_microphone()
            from_call._set_mode(self._policy.background_mode)
        self._resume(to_call)
        await to_call._open_microphone_for_focus()

    def _resume(self, call: Call) -> None:
        self._policy.before_resume(self, call)
        call._set_mode(AudioMode.FOCUSED)

    # --- PolicyHost levers --------------------------------------------------------------------

    @property
    def active_calls(self) -> Sequence[PolicyCall]:
        return self.state.active_calls

    def suspend(self, call: PolicyCall) -> None:
        assert isinstance(call, Call)
        if call.audio_mode is not AudioMode.SUSPENDED:
            call._set_mode(AudioMode.SUSPENDED)

    def duck(self, call: PolicyCall) -> None:
        assert isinstance(call, Call)
        if call.audio_mode is not AudioMode.DUCKED and not call.suspended_by_user:
            call._set_mode(AudioMode.DUCKED)

    def focus(self, call: PolicyCall) -> None:
        assert isinstance(call, Call)
        call._set_mode(AudioMode.FOCUSED)

    def most_recent_holder(self, candidates: Sequence[PolicyCall]) -> PolicyCall | None:
        for call in reversed(self._focus_history):
            if call in candidates:
                return call
        return None

    def _note_focus(self, call: Call) -> None:
        if call in self._focus_history:
            self._focus_history.remove(call)
        if call in self.state.active_calls:
            self._focus_history.append(call)

    def _refresh_focus(self) -> None:
        active = self.state.active_calls
        focused: Call | None = None
        for call in reversed(self._focus_history):
            if call in active and call.audio_mode is AudioMode.FOCUSED:
                focused = call
                break
        self.state._set("focused_call", focused)

    # --- events from the server ---------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        cid = getattr(event, "cid", None)
        if isinstance(event, p.CallRingEvent):
            self._on_ring(event)
            return
        call = self._calls.get(cid) if cid else None
        if call is None:
            return
        match event:
            case p.ParticipantJoinedEvent():
                call._on_participant_joined(event)
            case p.ParticipantLeftEvent():
                call._on_participant_left(event)
            case p.ParticipantMutedEvent():
                call._on_participant_muted(event)
            case p.SfuTracksEvent():
                call._on_sfu_tracks(event)
            case p.CallLevelsEvent():
                call._on_sfu_levels(event)
            case p.CallAcceptedEvent():
                if event.user.id == self.user.id:
                    call._clear_ring()  # accepted on another device
                else:
                    call.state._set("outgoing_ring", call.state.outgoing_ring - {event.user.id})
                    call.state._note_ring_response(event.user.id, "accepted")
            case p.CallRejectedEvent() | p.CallMissedEvent():
                self._on_ring_ended(call, event)
            case p.CallEndedEvent():
                self._spawn(call._on_ended())

    def _on_ring(self, event: p.CallRingEvent) -> None:
        call = self.make_call(CallType(event.call.type), event.call.id)
        call.info = event.call
        if self.options.reject_call_when_busy and self.state.active_calls:
            self._spawn(self._reject_busy(call))
            return
        call._set_ringing(User(event.caller.id, event.caller.name), event.timeout_s)
        if call in self._incoming:
            self._incoming.remove(call)
        self._incoming.append(call)
        self.state._set("incoming_call", call)

    async def _reject_busy(self, call: Call) -> None:
        with contextlib.suppress(MctuiError):
            await self._request(p.RejectCallRequest, cid=call.cid, reason="busy")

    def _on_ring_ended(self, call: Call, event: p.CallRejectedEvent | p.CallMissedEvent) -> None:
        if event.user.id == self.user.id or (
            call.state.ringing is not None and event.user.id == call.state.ringing.caller.id
        ):
            call._clear_ring()  # our ring was cancelled, timed out, or declined elsewhere
            return
        if event.user.id not in call.state.outgoing_ring:
            return
        remaining = call.state.outgoing_ring - {event.user.id}
        call.state._set("outgoing_ring", remaining)
        response = event.reason if isinstance(event, p.CallRejectedEvent) else "missed"
        call.state._note_ring_response(event.user.id, response)
        if not remaining and not call.state.remote_participants:
            self._spawn(call.leave())  # nobody answered a call we placed: hang up

    def _clear_incoming(self, call: Call) -> None:
        if call in self._incoming:
            self._incoming.remove(call)
        self.state._set("incoming_call", self._incoming[-1] if self._incoming else None)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
