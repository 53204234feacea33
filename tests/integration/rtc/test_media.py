"""Real calls over WebRTC through the embedded SFU on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from helpers import wait_heard, wait_until
from mctui import CallType
from spectrum import band_level_db, longest_silence_ms, peak_hz


def _remote_levels_above(call, floor_db: float, count: int):
    """Wait until ``count`` remote participants are played (not only seen talking by the SFU,
    which Janus reports before this client's subscription carries audio) above ``floor_db``."""

    def ok(participants) -> bool:
        remotes = [p for p in participants if not p.is_local]
        return len(remotes) == count and all(p.heard and p.audio_level > floor_db for p in remotes)

    return wait_until(call.state, "participants", ok, timeout=10)


@pytest.mark.both_sfus
async def test_two_users_hear_each_other_not_themselves(media_client):
    alice = await media_client("alice", tone_hz=440)
    bob = await media_client("bob", tone_hz=660)
    a = alice.make_call(CallType.DEFAULT, "duet")
    b = bob.make_call(CallType.DEFAULT, "duet")
    await a.join()
    await b.join()
    await _remote_levels_above(a, -30, 1)
    await _remote_levels_above(b, -30, 1)
    await asyncio.sleep(1.0)
    heard_by_alice = alice.audio.backend.output(last_seconds=1.0)
    heard_by_bob = bob.audio.backend.output(last_seconds=1.0)
    assert abs(peak_hz(heard_by_alice) - 660) < 5
    assert abs(peak_hz(heard_by_bob) - 440) < 5
    assert band_level_db(heard_by_alice, 660) > -30
    assert band_level_db(heard_by_alice, 440) < band_level_db(heard_by_alice, 660) - 40
    assert band_level_db(heard_by_bob, 660) < band_level_db(heard_by_bob, 440) - 40


@pytest.mark.both_sfus
async def test_once_both_hear_each_other_the_audio_has_no_gap(media_client):
    """Neither a second joiner's subscription (Janus renegotiates alice's subscriber) nor a
    playout restart may cut the audio once it flows: alice's speaker carries bob's tone in
    every 20 ms frame of the next 1.5 s."""
    alice = await media_client("alice", tone_hz=440)
    bob = await media_client("bob", tone_hz=660)
    carol = await media_client("carol", tone_hz=880)
    a = alice.make_call(CallType.DEFAULT, "gapless")
    await a.join()
    await bob.make_call(CallType.DEFAULT, "gapless").join()
    await _remote_levels_above(a, -30, 1)
    alice.audio.backend.clear_output()
    await carol.make_call(CallType.DEFAULT, "gapless").join()
    await _remote_levels_above(a, -30, 2)
    await asyncio.sleep(1.0)
    heard = alice.audio.backend.output()
    assert len(heard) >= 48_000
    assert longest_silence_ms(heard, floor_dbfs=-40) == 0


@pytest.mark.both_sfus
async def test_three_users_each_hears_two_separate_tracks(media_client):
    tones = {"alice": 440, "bob": 660, "carol": 880}
    clients = {uid: await media_client(uid, tone_hz=hz) for uid, hz in tones.items()}
    calls = {}
    for uid, client in clients.items():
        calls[uid] = client.make_call(CallType.DEFAULT, "trio")
        await calls[uid].join()
    for call in calls.values():
        await _remote_levels_above(call, -30, 2)
    await asyncio.sleep(1.0)
    for uid, client in clients.items():
        heard = client.audio.backend.output(last_seconds=1.0)
        others = [hz for other, hz in tones.items() if other != uid]
        for hz in others:
            assert band_level_db(heard, hz) > -30, f"{uid} does not hear {hz} Hz"
        assert (
            band_level_db(heard, tones[uid]) < min(band_level_db(heard, hz) for hz in others) - 40
        )
        remotes = {p.user.id: p for p in calls[uid].state.remote_participants}
        assert set(remotes) == set(tones) - {uid}
        adm = calls[uid].adm
        assert adm is not None and set(adm.remotes) == set(tones) - {uid}


@pytest.mark.both_sfus
async def test_livestream_viewer_receives_host_and_is_never_forwarded(media_client):
    host = await media_client("host", tone_hz=440)
    viewer = await media_client("viewer", tone_hz=1000)
    other = await media_client("other")
    h = host.make_call(CallType.LIVESTREAM, "show")
    await h.join()
    v = viewer.make_call(CallType.LIVESTREAM, "show")
    await v.join()
    o = other.make_call(CallType.LIVESTREAM, "show")
    await o.join()
    await v.set_microphone_enabled(True)  # a viewer's wish to talk changes nothing
    await wait_heard(v, "host")
    await asyncio.sleep(1.0)
    heard_by_viewer = viewer.audio.backend.output(last_seconds=1.0)
    heard_by_other = other.audio.backend.output(last_seconds=1.0)
    heard_by_host = host.audio.backend.output(last_seconds=1.0)
    assert band_level_db(heard_by_viewer, 440) > -30
    assert band_level_db(heard_by_other, 440) > -30
    assert band_level_db(heard_by_other, 1000) < -80
    assert band_level_db(heard_by_host, 1000) < -80
    assert h.adm is not None and "viewer" not in h.adm.remotes
