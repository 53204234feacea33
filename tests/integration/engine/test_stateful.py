"""Random sequences of engine operations under every policy, invariants checked after each step.

Runs against the real coordinator on 127.0.0.1 with a second real client ("bob") that rings and
hangs up. The invariants are those of DESIGN.md section 4 and the issue: no duplicate active call;
at most one call holds the speaker (SUSPEND_*) or the microphone (DUCK_EXISTING); a suspended call
captures nothing; the engine never undoes a mute the user made.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from mctui import Call, CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.audio.config import FRAME_SAMPLES
from mctui.engine.state import CallConnection
from mctui.errors import MctuiError
from mctui.server.app import start_server
from mctui.server.tokens import issue_token
from testbed import SECRET

#: Five machines of 6-8 s each: run by ``make test``, left out of ``make check``.
pytestmark = pytest.mark.slow

ROOMS = ["r0", "r1", "r2"]
BOB_ROOMS = ["b0", "b1"]
TONE = (0.3 * np.sin(2 * np.pi * 440 * np.arange(FRAME_SAMPLES) / 48_000)).astype(np.float32)


class EngineMachine(RuleBasedStateMachine):
    policy: MultiCallAudioPolicy = MultiCallAudioPolicy.SUSPEND_EXISTING
    allow_multiple = True

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.server = self.run(start_server(SECRET, "127.0.0.1", 0, ring_timeout=30))
        self.alice = self.run(self._client("alice", self.policy, self.allow_multiple))
        self.bob = self.run(self._client("bob", MultiCallAudioPolicy.MANUAL, True))
        self.wish: dict[str, bool] = {}

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    async def _client(self, uid: str, policy: MultiCallAudioPolicy, multiple: bool) -> Client:
        client = Client(
            self.server.url,
            User(uid),
            issue_token(SECRET, uid),
            ClientOptions(
                multi_call_audio_policy=policy,
                allow_multiple_active_calls=multiple,
                audio_device="memory",
            ),
        )
        await client.connect()
        return client

    def teardown(self) -> None:
        async def _close() -> None:
            await self.alice.disconnect()
            await self.bob.disconnect()
            await self.server.stop()

        self.run(_close())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def _settle(self) -> None:
        for _ in range(2):
            await asyncio.sleep(0.002)

    def step(self, coro) -> None:  # type: ignore[no-untyped-def]
        async def _go() -> None:
            with contextlib.suppress(MctuiError):
                await coro
            await self._settle()

        self.run(_go())

    def call(self, name: str) -> Call:
        return self.alice.make_call(CallType.DEFAULT, name)

    def _note_joined(self, call: Call) -> None:
        if call in self.alice.state.active_calls:
            self.wish[call.cid] = call.state.microphone_enabled

    @initialize()
    def start(self) -> None:
        self.wish.clear()

    # --- rules --------------------------------------------------------------------------------

    @rule(name=st.sampled_from(ROOMS))
    def join(self, name: str) -> None:
        call = self.call(name)
        was_active = call in self.alice.state.active_calls
        self.step(call.join())
        if not was_active:
            self._note_joined(call)

    @rule(name=st.sampled_from(ROOMS))
    def leave(self, name: str) -> None:
        call = self.call(name)
        held = call is self.alice.state.focused_call
        self.step(call.leave())
        remaining = [c for c in self.alice.state.active_calls if not c.suspended_by_user]
        if (
            held
            and remaining
            and self.policy
            in (
                MultiCallAudioPolicy.SUSPEND_EXISTING,
                MultiCallAudioPolicy.DUCK_EXISTING,
            )
        ):
            # liveness: when the focused call leaves, the most recent holder gets the audio back
            assert self.alice.state.focused_call in remaining, "nobody resumed after a leave"

    @rule(name=st.sampled_from(ROOMS))
    def end(self, name: str) -> None:
        self.step(self.call(name).end())

    @rule(name=st.sampled_from(ROOMS))
    def suspend(self, name: str) -> None:
        self.step(self.call(name).suspend_audio())

    @rule(name=st.sampled_from(ROOMS))
    def resume(self, name: str) -> None:
        self.step(self.call(name).resume_audio())

    @rule(name=st.sampled_from(ROOMS), enabled=st.booleans())
    def set_mic(self, name: str, enabled: bool) -> None:
        call = self.call(name)
        self.step(call.set_microphone_enabled(enabled))
        self.wish[call.cid] = enabled

    @rule(name=st.sampled_from(ROOMS), on=st.booleans())
    def transmit(self, name: str, on: bool) -> None:
        """The patch: the mic into a room without moving the focus (refused while muted)."""
        call = self.call(name)
        self.step(call.set_transmit(on))
        if on and call.state.transmit:
            self.wish[call.cid] = True

    @rule(data=st.data())
    def switch_focus(self, data: st.DataObject) -> None:
        active = self.alice.state.active_calls
        if not active:
            return
        to_call = data.draw(st.sampled_from(active))
        from_call = data.draw(st.sampled_from([None, *active]))
        self.step(self.alice.switch_focus(from_call, to_call))
        if to_call.state.connection is CallConnection.JOINED and self.wish.get(to_call.cid):
            # the mic follows focus, unless muted by hand
            assert to_call.state.microphone_enabled, f"{to_call.cid} took focus with the mic off"

    @rule(room=st.sampled_from(BOB_ROOMS))
    def bob_rings(self, room: str) -> None:
        call = self.bob.make_call(CallType.DEFAULT, room)

        mine = self.alice.make_call(CallType.DEFAULT, room)
        if mine in self.alice.state.active_calls:
            return  # the server does not ring someone already in the call

        async def _ring() -> None:
            await call.ring(["alice"])
            async with asyncio.timeout(2):
                await self.alice.state.observe("incoming_call").wait_for(
                    lambda c: c is not None and c.cid == call.cid
                )

        self.step(_ring())

    @rule()
    def accept(self) -> None:
        incoming = self.alice.state.incoming_call
        if incoming is not None:
            self.step(incoming.accept())
            self._note_joined(incoming)

    @rule()
    def reject(self) -> None:
        incoming = self.alice.state.incoming_call
        if incoming is not None:
            self.step(incoming.reject())

    @rule(room=st.sampled_from(BOB_ROOMS))
    def bob_hangs_up(self, room: str) -> None:
        call = self.bob.make_call(CallType.DEFAULT, room)
        self.step(call.end())

    @rule()
    def audio_frames(self) -> None:
        """Run device frames: suspended calls must not take any capture."""
        before = {c.cid: (c.adm.frames_captured if c.adm else 0) for c in self._active()}
        for _ in range(3):
            self.alice.audio.process(TONE)
        for call in self._active():
            after = call.adm.frames_captured if call.adm else 0
            if (
                call.state.transmit
                and call.adm is not None
                and call.state.connection.value == "joined"
            ):
                assert after == before[call.cid] + 3, (
                    f"{call.cid} is patched in but captured nothing"
                )
            elif call.state.is_audio_suspended or call.state.is_audio_ducked:
                assert after == before[call.cid], f"{call.cid} captured while suspended"

    # --- invariants ---------------------------------------------------------------------------

    def _active(self) -> list[Call]:
        return self.alice.state.active_calls

    @invariant()
    def no_duplicate_active_calls(self) -> None:
        active = self._active()
        assert len(active) == len({id(c) for c in active})
        if not self.allow_multiple:
            assert len(active) <= 1

    @invariant()
    def exclusive_speaker_or_microphone(self) -> None:
        session = self.alice._audio
        if session is None:
            return
        full_speaker = [a for a in session.speaker_holders if a.speaker_gain_db == 0.0]
        if self.policy in (
            MultiCallAudioPolicy.SUSPEND_EXISTING,
            MultiCallAudioPolicy.SUSPEND_INCOMING,
        ):
            assert len(session.speaker_holders) <= 1, "two calls hold the speaker"
        patched = {c.adm for c in self._active() if c.state.transmit}
        if self.policy is MultiCallAudioPolicy.DUCK_EXISTING:
            unpatched = [a for a in session.microphone_holders if a not in patched]
            assert len(unpatched) <= 1, "two calls hold the microphone (besides patches)"
            assert len(full_speaker) <= 1

    @invariant()
    def suspended_calls_capture_nothing(self) -> None:
        for call in self._active():
            if call.state.is_audio_suspended and not call.state.transmit:
                assert not call.state.is_capturing
                assert not call.state.holds_microphone and not call.state.holds_speaker
                assert call.adm is None or not call.adm.is_capturing

    @invariant()
    def a_patch_never_goes_where_it_must_not(self) -> None:
        """Never into a room muted by hand; cleared once the room is left."""
        for name in ROOMS:
            call = self.call(name)
            if call.state.transmit:
                assert call in self._active(), f"{call.cid} left but is still patched in"
                assert call.state.microphone_enabled and not call.muted_by_user

    @invariant()
    def mute_is_never_undone(self) -> None:
        for call in self._active():
            if self.wish.get(call.cid) is False:
                assert not call.state.microphone_enabled, f"{call.cid} was unmuted by the engine"
                assert call.adm is None or not call.adm.capture_enabled


def _machine(policy: MultiCallAudioPolicy, multiple: bool = True) -> type[EngineMachine]:
    return type(
        f"Machine_{policy.value}_{'multi' if multiple else 'single'}",
        (EngineMachine,),
        {"policy": policy, "allow_multiple": multiple},
    )


_SETTINGS = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestSuspendExisting = _machine(MultiCallAudioPolicy.SUSPEND_EXISTING).TestCase
TestSuspendExisting.settings = _SETTINGS
TestSuspendIncoming = _machine(MultiCallAudioPolicy.SUSPEND_INCOMING).TestCase
TestSuspendIncoming.settings = _SETTINGS
TestManual = _machine(MultiCallAudioPolicy.MANUAL).TestCase
TestManual.settings = _SETTINGS
TestDuckExisting = _machine(MultiCallAudioPolicy.DUCK_EXISTING).TestCase
TestDuckExisting.settings = _SETTINGS
TestSingleCall = _machine(MultiCallAudioPolicy.SUSPEND_EXISTING, multiple=False).TestCase
TestSingleCall.settings = _SETTINGS
