"""Focus has one home: the active calls, the multicall policy, the focus history, and the one
focus computation per decision.

Every decision (a call added or removed, a switch, a resume, a hand suspension, a policy change)
runs the policy synchronously, pulls the calls' audio levers, and only then computes
``focused_call`` once, so a listener sees one change per decision (A -> B, never A -> None -> B).
Everything runs on one asyncio loop and no step awaits between a decision's levers, so no other
task can observe a half-applied decision (two calls holding the speaker, say).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from mctui.audio.pan import auto_pans
from mctui.engine.client_state import ClientState
from mctui.engine.policies import AudioPolicy, AudioPreview, PolicyCall, policy_for
from mctui.engine.state import AudioMode, StateWriter
from mctui.engine.types import ClientOptions, MultiCallAudioPolicy
from mctui.errors import InvalidStateError

if TYPE_CHECKING:
    from mctui.engine.call import Call


class FocusManager:
    """Owns ``active_calls`` and ``focused_call`` of a client's state; the policy's host."""

    def __init__(self, writer: StateWriter[ClientState], options: ClientOptions) -> None:
        self._writer = writer
        self._state = writer.state
        self._options = options
        self._policy: AudioPolicy = policy_for(options.multi_call_audio_policy)
        self._history: list[Call] = []
        #: While the client disconnects, calls leave without the policy resuming one another.
        self.quiet = False

    # --- what the policy reads and pulls (PolicyHost) -----------------------------------------

    @property
    def active_calls(self) -> Sequence[PolicyCall]:
        return self._state.active_calls

    def suspend(self, call: PolicyCall) -> None:
        if call.audio_mode is not AudioMode.SUSPENDED:
            self._apply(call, AudioMode.SUSPENDED)

    def duck(self, call: PolicyCall) -> None:
        if call.audio_mode is not AudioMode.DUCKED and not call.suspended_by_user:
            self._apply(call, AudioMode.DUCKED)

    def focus(self, call: PolicyCall) -> None:
        self._apply(call, AudioMode.FOCUSED)

    def most_recent_holder(self, candidates: Sequence[PolicyCall]) -> PolicyCall | None:
        for call in reversed(self._history):
            if call in candidates:
                return call
        return None

    def _apply(self, call: PolicyCall, mode: AudioMode, *, by_user: bool = False) -> None:
        target = self._call(call)
        target.apply_audio_mode(mode, by_user=by_user)
        if mode is AudioMode.FOCUSED:
            if target in self._history:
                self._history.remove(target)
            if target in self._state.active_calls:
                self._history.append(target)

    @staticmethod
    def _call(call: PolicyCall) -> Call:
        from mctui.engine.call import Call

        assert isinstance(call, Call)
        return call

    # --- decisions ----------------------------------------------------------------------------

    @property
    def policy(self) -> MultiCallAudioPolicy:
        return self._policy.kind

    def set_policy(self, kind: MultiCallAudioPolicy) -> None:
        """Switch policy at run time; the focused call keeps the audio, the others follow the
        new policy's background mode (a call suspended by hand stays suspended)."""
        self._options.multi_call_audio_policy = kind
        self._policy = policy_for(kind)
        focused = self._state.focused_call
        with self._decision():
            if kind is not MultiCallAudioPolicy.MANUAL and focused is not None:
                for call in self._state.active_calls:
                    if call is not focused and not call.suspended_by_user:
                        self._apply(call, self._policy.background_mode)
        self._decided()

    def preview(self, call: Call) -> AudioPreview:
        """What joining or accepting ``call`` would do to the other calls' audio, now."""
        active = self._state.active_calls
        if not self._options.allow_multiple_active_calls:
            return AudioPreview(leaves=tuple(c for c in active if c is not call))
        if call in active:
            return AudioPreview()
        return self._policy.preview(self, call)

    async def set_active(self, call: Call, leave: Callable[[Call], Awaitable[None]]) -> None:
        """Add ``call`` (never twice); in single-call mode ``leave`` the others first."""
        if call in self._state.active_calls:
            return
        if not self._options.allow_multiple_active_calls:
            for other in list(self._state.active_calls):
                if other is not call:
                    await leave(other)
            if call in self._state.active_calls:
                return
        self._writer.set(ClientState.active_calls, [*self._state.active_calls, call])
        with self._decision():
            self._policy.on_set_active(self, call)
        self._decided()

    def remove_active(self, call: Call) -> None:
        """Remove ``call``; the policy may resume another (not while disconnecting)."""
        if call not in self._state.active_calls:
            return
        remaining = [c for c in self._state.active_calls if c is not call]
        self._writer.set(ClientState.active_calls, remaining)
        if call in self._history:
            self._history.remove(call)
        if not self.quiet:
            with self._decision():
                self._policy.on_remove_active(self, call)
        self._decided()

    async def switch_focus(self, from_call: Call | None, to_call: Call) -> None:
        """Close the mic on ``from``, suspend (or duck) it, resume ``to``, open its mic."""
        active = self._state.active_calls
        if to_call not in active:
            raise InvalidStateError(f"{to_call.cid} is not an active call: join it first")
        with self._decision():
            if from_call is not None and from_call is not to_call and from_call in active:
                from_call.close_microphone()
                self._apply(from_call, self._policy.background_mode)
            self._resume(to_call)
            announce = to_call.open_microphone_for_focus()
        self._decided()
        if announce:
            await to_call.send_unmute()

    def resume(self, call: Call) -> None:
        """``call`` takes the audio back; an exclusive policy makes room first."""
        if call not in self._state.active_calls:
            return
        with self._decision():
            self._resume(call)
        self._decided()

    def suspend_by_user(self, call: Call) -> None:
        """The user suspended ``call`` by hand: the policy never auto-resumes it."""
        with self._decision():
            self._apply(call, AudioMode.SUSPENDED, by_user=True)
        self._decided()

    def _resume(self, call: Call) -> None:
        self._policy.before_resume(self, call)
        self._apply(call, AudioMode.FOCUSED)

    @contextmanager
    def _decision(self) -> Iterator[None]:
        """The levers of one decision: each active call syncs its holds once, at the end, and
        is one change to a UI (the focus is computed after, from the synced calls)."""
        with ExitStack() as calls:
            for call in list(self._state.active_calls):
                calls.enter_context(self._call(call).deciding())
            yield
            self._place(self._focus_now())  # inside the decision: one change per call

    def _decided(self) -> None:
        """The one focus computation of a decision: the most recent holder still focused."""
        self._writer.set(ClientState.focused_call, self._focus_now())

    def _focus_now(self) -> Call | None:
        active = self._state.active_calls
        return next(
            (
                c
                for c in reversed(self._history)
                if c in active and c.audio_mode is AudioMode.FOCUSED
            ),
            None,
        )

    def place_rooms(self) -> None:
        """Place every active room in the stereo mix again (a room's own place changed)."""
        self._place(self._state.focused_call)

    def _place(self, focused: Call | None) -> None:
        """``focused`` in the centre, the other rooms heard (ducked, or focused too under
        ``MANUAL``) spread left to right in pane order; a suspended room goes to the centre,
        where a replay of it plays."""
        heard = [
            c
            for c in self._state.active_calls
            if c is not focused and c.audio_mode is not AudioMode.SUSPENDED
        ]
        places = dict(zip(heard, auto_pans(len(heard)), strict=True))
        for call in self._state.active_calls:
            self._call(call).place(places.get(call, 0.0))
