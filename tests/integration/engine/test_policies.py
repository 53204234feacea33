"""DESIGN.md section 4, one test per rule, against a real coordinator on 127.0.0.1."""

from __future__ import annotations

import pytest

from helpers import capturing, mic_holders, speaker_holders, unsuspended, wait_until
from mctui import CallType, ConnectOptions, MultiCallAudioPolicy, TrackOption
from mctui.engine.state import CallConnection
from mctui.errors import CallNotFoundError

ALL_POLICIES = list(MultiCallAudioPolicy)
SE = MultiCallAudioPolicy.SUSPEND_EXISTING
SI = MultiCallAudioPolicy.SUSPEND_INCOMING
MANUAL = MultiCallAudioPolicy.MANUAL
DUCK = MultiCallAudioPolicy.DUCK_EXISTING


@pytest.fixture
def two_calls(make_client):  # type: ignore[no-untyped-def]
    """``alice, a, b = await two_calls(policy)``: alice under ``policy`` with calls "a" and "b",
    both joined in that order (``join=False``: neither joined yet)."""

    async def make(policy: MultiCallAudioPolicy, *, join: bool = True):  # type: ignore[no-untyped-def]
        alice = await make_client("alice", policy)
        a, b = alice.make_call(CallType.DEFAULT, "a"), alice.make_call(CallType.DEFAULT, "b")
        if join:
            await a.join()
            await b.join()
        return alice, a, b

    return make


# --- join / leave / end / reject / failed join and the active list ----------------------------


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_join_sets_active_before_media_exists(make_client, policy):
    alice = await make_client("alice", policy)
    call = alice.make_call(CallType.DEFAULT, "alpha")
    seen = []
    alice.state.observe("active_calls").listen(
        lambda calls: seen.append((call in calls, call.state.connection, call.has_media))
    )
    await call.join()
    assert seen[0] == (True, CallConnection.JOINING, False)
    assert call.state.connection is CallConnection.JOINED and call.has_media


@pytest.mark.parametrize("policy", ALL_POLICIES)
@pytest.mark.parametrize("how", ["leave", "end"])
async def test_leave_and_end_remove_active_last(make_client, policy, how):
    alice = await make_client("alice", policy)
    call = alice.make_call(CallType.DEFAULT, "alpha")
    await call.join()
    seen = []
    alice.state.observe("active_calls").listen(
        lambda calls: seen.append((call in calls, call.state.connection, call.has_media))
    )
    await getattr(call, how)()
    assert seen == [(False, CallConnection.LEFT, False)]
    assert alice.state.active_calls == []


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_failed_join_removes_active_call(make_client, policy):
    alice = await make_client("alice", policy)
    ok = alice.make_call(CallType.DEFAULT, "alpha")
    await ok.join()
    ghost = alice.make_call(CallType.DEFAULT, "no-such-room")
    with pytest.raises(CallNotFoundError):
        await ghost.join(create=False)
    assert alice.state.active_calls == [ok]
    assert ghost.state.connection is CallConnection.FAILED
    if policy in (SE, DUCK):  # the failed join took the focus first; it must come back
        assert not ok.state.is_audio_suspended and ok.state.holds_microphone


async def test_reject_runs_remove_active_call(make_client):
    alice = await make_client("alice")
    bob = await make_client("bob")
    ring = bob.make_call(CallType.DEFAULT, "ring-1")
    await ring.ring(["alice"])
    incoming = await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    removed: list[object] = []
    alice.state.observe("active_calls").listen(removed.append)
    await incoming.reject(reason="decline")
    assert alice.state.incoming_call is None
    assert incoming not in alice.state.active_calls
    assert removed == []  # it was never active: removing it changed nothing


# --- SUSPEND_EXISTING ---------------------------------------------------------------------------


async def test_suspend_existing_newest_wins(make_client):
    alice = await make_client("alice", SE)
    a, b, c = (alice.make_call(CallType.DEFAULT, n) for n in ("a", "b", "c"))
    for call in (a, b, c):
        await call.join()
    assert [x.state.is_audio_suspended for x in (a, b, c)] == [True, True, False]
    assert speaker_holders(alice) == [c] and mic_holders(alice) == [c]


async def test_suspend_existing_resumes_most_recent_holder(make_client):
    alice = await make_client("alice", SE)
    a, b, c = (alice.make_call(CallType.DEFAULT, n) for n in ("a", "b", "c"))
    for call in (a, b, c):
        await call.join()
    await alice.switch_focus(c, a)  # history: a, b, c, then a again
    await a.leave()
    assert unsuspended(alice) == [c]  # c held the audio more recently than b


async def test_suspend_existing_resumes_most_recently_added_when_none_held(make_client):
    alice = await make_client("alice", SI)
    a, b, c = (alice.make_call(CallType.DEFAULT, n) for n in ("a", "b", "c"))
    for call in (a, b, c):
        await call.join()
    assert unsuspended(alice) == [a]  # b and c never held the audio
    alice.set_multi_call_audio_policy(SE)
    await a.leave()
    assert unsuspended(alice) == [c]


async def test_suspend_existing_leaving_background_call_changes_nothing(two_calls):
    alice, a, b = await two_calls(SE)
    await a.leave()
    assert unsuspended(alice) == [b]


# --- SUSPEND_INCOMING ---------------------------------------------------------------------------


async def test_suspend_incoming_first_call_keeps_focus(two_calls):
    alice, a, b = await two_calls(SI)
    assert not a.state.is_audio_suspended and b.state.is_audio_suspended
    assert speaker_holders(alice) == [a]
    assert not b.state.holds_microphone and not b.state.is_capturing


async def test_suspend_incoming_no_auto_resume(two_calls):
    alice, a, b = await two_calls(SI)
    await a.leave()
    assert b.state.is_audio_suspended and speaker_holders(alice) == []


async def test_suspend_incoming_new_call_takes_audio_when_all_others_suspended(two_calls):
    alice, a, b = await two_calls(SI, join=False)
    await a.join()
    await a.suspend_audio()
    await b.join()
    assert not b.state.is_audio_suspended and speaker_holders(alice) == [b]


# --- MANUAL -------------------------------------------------------------------------------------


async def test_manual_nothing_automatic_and_devices_shared(two_calls):
    alice, a, b = await two_calls(MANUAL)
    assert unsuspended(alice) == [a, b]
    assert speaker_holders(alice) == [a, b] and mic_holders(alice) == [a, b]
    session = alice.audio
    assert len(session.speaker_holders) == 2 and len(session.microphone_holders) == 2
    await b.suspend_audio()
    await a.leave()
    assert b.state.is_audio_suspended  # no auto-resume under MANUAL


# --- DUCK_EXISTING ------------------------------------------------------------------------------


async def test_duck_existing_background_audible_at_duck_gain(two_calls):
    alice, a, b = await two_calls(DUCK)
    assert a.state.is_audio_ducked and not a.state.is_audio_suspended
    assert a.state.holds_speaker and not a.state.holds_microphone
    assert a.adm is not None and a.adm.speaker_gain_db == pytest.approx(-18.0)
    assert b.adm is not None and b.adm.speaker_gain_db == 0.0
    assert mic_holders(alice) == [b]


async def test_duck_existing_unducks_on_leave(two_calls):
    alice, a, b = await two_calls(DUCK)
    await b.leave()
    assert not a.state.is_audio_ducked and a.state.holds_microphone
    assert a.adm is not None and a.adm.speaker_gain_db == 0.0


async def test_duck_existing_switch_focus_ducks_the_other(two_calls):
    alice, a, b = await two_calls(DUCK)
    await alice.switch_focus(b, a)
    assert b.state.is_audio_ducked and mic_holders(alice) == [a]


# --- single-call mode ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_single_call_join_leaves_previous_first(make_client, policy):
    alice = await make_client("alice", policy, allow_multiple_active_calls=False)
    a, b = alice.make_call(CallType.DEFAULT, "a"), alice.make_call(CallType.DEFAULT, "b")
    await a.join()
    at_b_joining = []
    b.state.observe("connection").listen(
        lambda conn: (
            at_b_joining.append(a.state.connection) if conn is CallConnection.JOINED else None
        )
    )
    await b.join()
    assert at_b_joining == [CallConnection.LEFT]
    assert alice.state.active_calls == [b]
    assert not b.state.is_audio_suspended and b.state.holds_speaker


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_single_call_accept_leaves_previous_first(make_client, policy):
    alice = await make_client("alice", policy, allow_multiple_active_calls=False)
    bob = await make_client("bob")
    a = alice.make_call(CallType.DEFAULT, "a")
    await a.join()
    await bob.make_call(CallType.DEFAULT, "one-to-one").ring(["alice"])
    incoming = await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    order = []
    a.state.observe("connection").listen(lambda conn: order.append(("a", conn)))
    incoming.state.observe("connection").listen(lambda conn: order.append(("new", conn)))
    await incoming.accept()
    assert order.index(("a", CallConnection.LEFT)) < order.index(("new", CallConnection.JOINED))
    assert alice.state.active_calls == [incoming]


# --- suspend / resume ---------------------------------------------------------------------------


async def test_suspend_is_noop_before_media(make_client):
    alice = await make_client("alice")
    call = alice.make_call(CallType.DEFAULT, "a")
    await call.suspend_audio()
    assert not call.state.is_audio_suspended
    await call.join()
    assert not call.state.is_audio_suspended and call.state.holds_speaker


async def test_suspend_releases_holds_and_tracks_idempotently(make_client):
    alice = await make_client("alice", MANUAL)
    call = alice.make_call(CallType.DEFAULT, "a")
    await call.join()
    assert call.state.is_capturing
    await call.suspend_audio()
    await call.suspend_audio()
    assert call.state.is_audio_suspended
    assert not call.state.holds_speaker and not call.state.holds_microphone
    assert call.adm is not None and not call.adm.capture_enabled
    await call.resume_audio()
    assert call.state.holds_speaker and call.state.holds_microphone and call.state.is_capturing


async def test_resume_reenables_only_what_suspension_disabled(make_client):
    alice = await make_client("alice", MANUAL)
    call = alice.make_call(CallType.DEFAULT, "a")
    await call.join(connect_options=ConnectOptions(microphone=TrackOption.disabled()))
    assert not call.state.is_capturing
    await call.suspend_audio()
    await call.resume_audio()
    assert call.state.holds_speaker and not call.state.is_capturing  # the user's mute stays


# --- hazard fixes -------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_hazard_setting_active_call_twice_adds_no_duplicate(make_client, policy):
    alice = await make_client("alice", policy)
    a = alice.make_call(CallType.DEFAULT, "a")
    await a.join()
    await alice.set_active_call(a)
    await a.join()
    assert alice.state.active_calls == [a]


@pytest.mark.parametrize("policy", [SE, DUCK])
async def test_hazard_auto_resume_never_leaves_two_unsuspended(make_client, policy):
    alice = await make_client("alice", policy)
    a, b, c = (alice.make_call(CallType.DEFAULT, n) for n in ("a", "b", "c"))
    for call in (a, b, c):
        await call.join()
    await b.resume_audio()  # the user brings b back by hand: c must give way
    await c.leave()  # auto-resume must not also wake a
    focused = [x for x in alice.state.active_calls if x.state.holds_microphone]
    assert focused == [b]
    if policy is SE:
        assert unsuspended(alice) == [b]


@pytest.mark.parametrize("policy", [SE, DUCK])
async def test_hazard_suspended_by_hand_not_auto_resumed(two_calls, policy):
    alice, a, b = await two_calls(policy, join=False)
    await a.join()
    await a.suspend_audio()
    await b.join()
    await b.leave()
    assert a.state.is_audio_suspended and speaker_holders(alice) == []


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_hazard_mic_enable_while_suspended_waits_for_resume(make_client, policy):
    alice = await make_client("alice", policy)
    a = alice.make_call(CallType.DEFAULT, "a")
    await a.join(connect_options=ConnectOptions(microphone=TrackOption.disabled()))
    await a.suspend_audio()
    await a.set_microphone_enabled(True)
    assert a.state.microphone_enabled
    assert not a.state.is_capturing and not a.state.holds_microphone
    assert a.adm is not None and not a.adm.capture_enabled
    await a.resume_audio()
    assert a.state.is_capturing


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_hazard_mute_during_suspension_wins_on_resume(make_client, policy):
    alice = await make_client("alice", policy)
    a = alice.make_call(CallType.DEFAULT, "a")
    await a.join()
    assert a.state.is_capturing
    await a.suspend_audio()
    await a.set_microphone_enabled(False)
    await a.resume_audio()
    assert a.state.holds_speaker and not a.state.is_capturing
    assert not a.state.microphone_enabled


async def test_hazard_mute_during_policy_suspension_wins_on_auto_resume(two_calls):
    alice, a, b = await two_calls(SE)
    await a.set_microphone_enabled(False)
    await b.leave()
    assert not a.state.is_audio_suspended and not a.state.is_capturing


# --- switch_focus -------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [SE, SI, MANUAL])
async def test_switch_focus_order_and_no_overlap(two_calls, policy):
    alice, a, b = await two_calls(policy)
    if policy is MANUAL:
        await a.suspend_audio()
    else:
        await alice.switch_focus(None, b) if policy is SI else None
    trace: list[tuple[str, bool, bool, bool]] = []

    def record(session):
        for adm in session.adms:
            trace.append((adm.name, adm.holds_microphone, adm.holds_speaker, adm.capture_enabled))
        full = [x for x in session.speaker_holders if x.speaker_gain_db == 0.0]
        assert len(full) <= 1, "two calls held the speaker at once"

    alice.audio.add_hold_listener(record)
    await alice.switch_focus(b, a)
    assert trace, "no hold changed"
    # the first change: b lost the mic, with its capture already off
    first_b = next(t for t in trace if t[0] == b.cid)
    assert first_b == (b.cid, False, True, False)
    assert a.state.holds_speaker and a.state.is_capturing
    assert b.state.is_audio_suspended and not b.state.holds_speaker
    assert alice.state.focused_call is a


async def test_switch_focus_restores_each_rooms_mic_preference(two_calls):
    alice, a, b = await two_calls(SE, join=False)
    await a.join()
    await a.set_microphone_enabled(False)
    await b.join()
    assert b.state.is_capturing
    await alice.switch_focus(b, a)
    assert not a.state.is_capturing and capturing(alice) == []
    await alice.switch_focus(a, b)
    assert capturing(alice) == [b] and b.state.microphone_enabled


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_switch_focus_opens_the_mic_of_a_background_joined_room(two_calls, policy):
    """The mic follows focus: a room joined with the mic disabled (the background join) is live
    once it takes the focus; join-time ``TrackOption.disabled()`` is not a hand mute."""
    alice, a, b = await two_calls(policy, join=False)
    await a.join()
    await b.join(connect_options=ConnectOptions(microphone=TrackOption.disabled()))
    assert not b.state.microphone_enabled and not b.muted_by_user
    await alice.switch_focus(alice.state.focused_call, a)
    await alice.switch_focus(a, b)
    assert b.state.microphone_enabled and b.state.is_capturing
    assert alice.state.focused_call is b
    if policy is not MANUAL:
        assert capturing(alice) == [b]


async def test_switch_focus_keeps_a_hand_mute_until_unmuted(two_calls):
    alice, a, b = await two_calls(SE)
    await b.set_microphone_enabled(False)  # muted by hand while it held the focus
    assert b.muted_by_user
    await alice.switch_focus(b, a)
    await alice.switch_focus(a, b)
    assert not b.state.microphone_enabled and capturing(alice) == []
    await b.set_microphone_enabled(True)
    assert not b.muted_by_user and capturing(alice) == [b]


async def test_switch_focus_leaves_a_viewer_listening(make_client):
    """``viewer()`` captures only once the user unmutes: focus alone does not open its mic."""
    from mctui import AudioConfigurationPolicy, CallPreferences

    alice = await make_client("alice", SE)
    a = alice.make_call(CallType.DEFAULT, "a")
    v = alice.make_call(
        CallType.DEFAULT,
        "v",
        CallPreferences(audio_configuration_policy=AudioConfigurationPolicy.viewer()),
    )
    await v.join()
    await a.join()
    await alice.switch_focus(a, v)
    assert alice.state.focused_call is v and not v.state.is_capturing


@pytest.mark.parametrize("policy", ALL_POLICIES)
async def test_listeners_see_one_focus_change_per_decision(two_calls, policy):
    """A -> B, never A -> None -> B: the focus is computed once per decision."""
    alice, a, b = await two_calls(policy)
    await alice.switch_focus(alice.state.focused_call, a)
    seen: list[object] = []
    alice.state.observe(alice.state.__class__.focused_call).listen(seen.append)
    await alice.switch_focus(a, b)
    assert seen == [b]
    seen.clear()
    await b.suspend_audio()
    await b.resume_audio()
    assert seen == [None, b]  # two decisions, one change each
    if policy in (SE, DUCK):
        seen.clear()
        await b.leave()  # the previous holder resumes: one change
        assert seen == [a]


# --- previews (what "accept" will do) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expect"),
    [
        (SE, {"suspends": ["b"]}),  # b took the audio back last; a is already suspended
        (SI, {"joins_suspended": True}),
        (MANUAL, {"shares_with": ["a", "b"]}),
        (DUCK, {"ducks": ["b"]}),
    ],
)
async def test_preview_matches_what_set_active_does(two_calls, policy, expect):
    alice, a, b = await two_calls(policy)
    if policy is SE:
        await a.resume_audio()
        await b.resume_audio()  # now b holds the audio and a is suspended
    new = alice.make_call(CallType.DEFAULT, "c")
    preview = alice.preview_set_active(new)
    for field, value in expect.items():
        got = getattr(preview, field)
        if isinstance(value, list):
            got = [c.id for c in got]
        assert got == value, field
    await new.join()
    if policy is SE:
        assert all(c.state.is_audio_suspended for c in (a, b))
    if policy is SI:
        assert new.state.is_audio_suspended
    if policy is DUCK:
        assert b.state.is_audio_ducked


async def test_preview_in_single_call_mode_lists_leaves(make_client):
    alice = await make_client("alice", allow_multiple_active_calls=False)
    a = alice.make_call(CallType.DEFAULT, "a")
    await a.join()
    preview = alice.preview_set_active(alice.make_call(CallType.DEFAULT, "b"))
    assert preview.leaves == (a,)


async def test_state_lists_are_plain_lists_and_async_iterable(make_client):
    import asyncio

    alice = await make_client("alice")
    a = alice.make_call(CallType.DEFAULT, "a")
    seen = []

    async def watch() -> None:
        async for calls in alice.state.active_calls:
            seen.append([c.id for c in calls])
            if len(calls) == 1:
                return

    watcher = asyncio.get_running_loop().create_task(watch())
    await asyncio.sleep(0)
    await a.join()
    await asyncio.wait_for(watcher, 5)
    assert seen == [["a"]]
    assert alice.state.active_calls == [a] and alice.state.active_calls.value == [a]
    assert isinstance(alice.state.active_calls, list)
    assert [p.user.id for p in a.state.participants] == ["alice"]


@pytest.mark.parametrize(
    ("policy", "suspended"),
    [(SE, ["b", "c"]), (SI, ["b", "c"]), (MANUAL, []), (DUCK, [])],
)
async def test_joining_several_rooms_leaves_the_first_in_front_as_the_policy_says(
    make_client, policy, suspended
):
    """``mctui join a b c`` (join_rooms): the first room has the focus and the only open mic;
    the others are as the policy puts a background room. Under manual nothing is suspended
    (the final focus step used to suspend the last room while the middle one stayed live)."""
    from mctui.engine.rooms import join_rooms

    alice = await make_client("alice", policy)
    await join_rooms(alice, [(CallType.DEFAULT, name) for name in ("a", "b", "c")])
    calls = {c.id: c for c in alice.state.active_calls}
    assert alice.state.focused_call is calls["a"]
    assert [n for n, c in calls.items() if c.state.is_audio_suspended] == suspended
    assert capturing(alice) == [calls["a"]]
