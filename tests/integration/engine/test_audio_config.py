"""Per-call audio configuration: override, client default, broadcaster fallback, built at join."""

from __future__ import annotations

from mctui import AudioConfigurationPolicy, CallPreferences, CallType


async def test_default_is_broadcaster(make_client):
    alice = await make_client("alice")
    call = alice.make_call(CallType.DEFAULT, "a")
    await call.join()
    assert call.adm is not None and call.adm.config == AudioConfigurationPolicy.broadcaster()
    assert call.state.is_capturing


async def test_client_default_then_per_call_override(make_client):
    alice = await make_client("alice", audio_configuration_policy=AudioConfigurationPolicy.hifi())
    plain = alice.make_call(CallType.DEFAULT, "plain")
    viewer = alice.make_call(
        CallType.DEFAULT,
        "watch",
        preferences=CallPreferences(audio_configuration_policy=AudioConfigurationPolicy.viewer()),
    )
    await plain.join()
    await viewer.join()
    assert plain.adm is not None and plain.adm.config.name == "hifi"
    assert viewer.adm is not None and viewer.adm.config.name == "viewer"
    assert viewer.adm.config.playout_channels == 2 and not viewer.adm.config.voice_processing


async def test_viewer_does_not_capture_until_unmuted(make_client):
    alice = await make_client("alice")
    pref = CallPreferences(audio_configuration_policy=AudioConfigurationPolicy.viewer())
    call = alice.make_call(CallType.DEFAULT, "watch", preferences=pref)
    await call.join()
    assert not call.state.microphone_enabled and not call.state.is_capturing
    await call.set_microphone_enabled(True)
    assert call.state.is_capturing


async def test_livestream_viewer_never_captures(make_client):
    host = await make_client("host")
    viewer = await make_client("viewer")
    await host.make_call(CallType.LIVESTREAM, "show").join()
    call = viewer.make_call(CallType.LIVESTREAM, "show")
    await call.join()
    assert call.state.role == "viewer" and not call.state.can_publish
    await call.set_microphone_enabled(True)
    assert not call.state.is_capturing and not call.state.holds_microphone
    assert call.state.holds_speaker


async def test_broadcaster_gets_the_apm_hifi_the_raw_mic_and_a_headset_no_canceller(make_client):
    """One APM per client, made for the first call that wants voice processing; the status
    line's label says what runs; ``echo_cancellation=False`` (a headset) keeps the rest."""
    alice = await make_client("alice")
    assert alice.voice_label == "broadcaster AEC"
    await alice.make_call(CallType.DEFAULT, "talk").join()
    voice = alice.audio.voice
    assert voice is not None and voice.echo_cancellation and voice.describe() == "AEC+NS+AGC"
    assert alice.audio.state.echo_cancellation == "on"  # DESIGN.md's client.audio.state
    bob = await make_client("bob", echo_cancellation=False)
    await bob.make_call(CallType.DEFAULT, "talk").join()
    assert bob.audio.voice is not None and bob.audio.voice.describe() == "NS+AGC"
    assert bob.voice_label == "broadcaster no-AEC" and bob.audio.state.echo_cancellation == "off"
    carol = await make_client("carol", audio_configuration_policy=AudioConfigurationPolicy.hifi())
    await carol.make_call(CallType.DEFAULT, "talk").join()
    assert carol.audio.voice is None and carol.voice_label == "hifi"
