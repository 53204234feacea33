"""The engine bridge: the one path from engine changes to a UI (the TUI and headless use it)."""

from __future__ import annotations

from mctui import CallType, ConnectOptions, MultiCallAudioPolicy, TrackOption
from mctui.engine.bridge import (
    AudioModeChanged,
    CallChanged,
    CallJoined,
    CallLeft,
    EngineBridge,
    FocusChanged,
    RingChanged,
)
from mctui.engine.state import CallState

SE = MultiCallAudioPolicy.SUSPEND_EXISTING


def listeners(call) -> int:  # type: ignore[no-untyped-def]
    names = ("audio_mode", "participants", "connection", "microphone_enabled", "ringing")
    return sum(call.state.observe(name).listener_count for name in names)


async def test_events_in_order_one_focus_change_per_switch(make_client):
    alice = await make_client("alice", SE)
    events: list[object] = []
    bridge = EngineBridge(alice, events.append)
    bridge.start()
    a, b = alice.make_call(CallType.DEFAULT, "a"), alice.make_call(CallType.DEFAULT, "b")
    await a.join()
    await b.join(connect_options=ConnectOptions(microphone=TrackOption.disabled()))
    kinds = [type(e).__name__ for e in events if not type(e).__name__.endswith("Changed")]
    assert kinds == ["CallJoined", "CallJoined"]
    events.clear()
    await alice.switch_focus(b, a)
    focus = [e for e in events if isinstance(e, FocusChanged)]
    assert focus == [FocusChanged(b, a)]  # never b -> None -> a
    modes = [(e.call.id, e.mode.value) for e in events if isinstance(e, AudioModeChanged)]
    assert modes == [("b", "suspended"), ("a", "focused")]
    bridge.close()


async def test_a_decision_is_one_change_per_call_and_syncs_the_holds_before_the_focus(
    make_client,
):
    """A Tab moves mode, mic, capture and both holds of two calls: a UI hears one change per
    call (not one per lever and field), and whoever hears the focus move sees the holds synced."""
    alice = await make_client("alice", SE)
    events: list[object] = []
    bridge = EngineBridge(alice, events.append)
    bridge.start()
    a, b = alice.make_call(CallType.DEFAULT, "a"), alice.make_call(CallType.DEFAULT, "b")
    await a.join()
    await b.join()
    holds_at_focus: dict[str, tuple[bool, bool, bool]] = {}

    def on_focus(_: object) -> None:
        for call in alice.state.active_calls:
            state = call.state
            holds_at_focus[call.id] = (
                state.holds_microphone, state.holds_speaker, state.is_capturing
            )  # fmt: skip

    stop = alice.state.observe("focused_call").listen(on_focus)
    for source, target in ((b, a), (a, b)):
        events.clear()
        await alice.switch_focus(source, target)
        changes = [e.call.id for e in events if isinstance(e, CallChanged)]
        assert sorted(changes) == ["a", "b"], changes
        focus_at = next(i for i, e in enumerate(events) if isinstance(e, FocusChanged))
        assert all(not isinstance(e, CallChanged) for e in events[focus_at:]), events
        assert holds_at_focus == {target.id: (True, True, True), source.id: (False, False, False)}
    events.clear()
    alice.set_multi_call_audio_policy(MultiCallAudioPolicy.DUCK_EXISTING)  # a: suspended -> ducked
    assert [e.call.id for e in events if isinstance(e, CallChanged)] == ["a"]
    assert a.state.holds_speaker and not a.state.holds_microphone
    stop()
    bridge.close()


async def test_subscriptions_close_when_a_call_leaves_and_on_close(make_client):
    alice = await make_client("alice", SE)
    bob = await make_client("bob")
    bridge = EngineBridge(alice, lambda event: None)
    bridge.start()
    a = alice.make_call(CallType.DEFAULT, "a")
    own = listeners(a)  # the state's own (derived fields follow audio_mode)
    await a.join()
    assert a.cid in bridge.watched and listeners(a) > own
    await a.leave()
    assert a.cid not in bridge.watched
    assert listeners(a) == own, "the bridge left listeners on a call that left"

    events: list[object] = []
    bridge.close()
    bridge = EngineBridge(alice, events.append)
    bridge.start()
    ringing = bob.make_call(CallType.DEFAULT, "ring-me")
    await ringing.ring(["alice"])
    incoming = await alice.state.observe("incoming_call").wait_for(lambda c: c is not None)
    own = 2
    assert incoming.cid in bridge.watched  # a ringing call is followed before it is joined
    await incoming.reject()
    await alice.state.observe("incoming_call").wait_for(lambda c: c is None)
    assert incoming.cid not in bridge.watched and listeners(incoming) == own
    assert [type(e) for e in events if isinstance(e, RingChanged)] == [RingChanged] * 2
    assert not [e for e in events if isinstance(e, CallJoined | CallLeft)]
    bridge.close()
    client_listeners = sum(
        alice.state.observe(name).listener_count
        for name in ("active_calls", "focused_call", "incoming_call", "connection")
    )
    assert client_listeners == 0


def test_state_fields_are_read_only_and_typed():
    import pytest

    state = CallState()
    with pytest.raises(AttributeError, match="read-only"):
        state.audio_mode = "focused"  # type: ignore[misc,assignment]
    assert state.observe(CallState.audio_mode) is state.observe("audio_mode")
    assert state.is_audio_suspended is False  # derived, computed from audio_mode


async def test_the_pause_guard_freezes_a_joined_call_and_thaws_when_it_leaves(make_client):
    """Once a call is joined the collector skips what exists (no 50-70 ms full collections
    over aiortc's objects during the call); a leave hands everything back to the collector."""
    import gc

    from mctui.engine.pauses import PauseGuard

    alice = await make_client("alice", SE)
    guard = PauseGuard()
    bridge = EngineBridge(alice, guard.observe)
    bridge.start()
    gc.unfreeze()
    try:
        call = alice.make_call(CallType.DEFAULT, "a")
        await call.join()
        assert guard.frozen > 1000  # the client, its connections, the loop's objects
        await call.leave()
        assert guard.frozen == 0
    finally:
        bridge.close()
        gc.unfreeze()
