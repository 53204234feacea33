from mctui import CallType


async def test_join_two_calls_suspend_existing(make_client):
    alice = await make_client("alice")
    a = alice.make_call(CallType.DEFAULT, "alpha")
    b = alice.make_call(CallType.DEFAULT, "bravo")
    await a.join()
    await b.join()
    assert alice.state.active_calls == [a, b]
    assert a.state.is_audio_suspended
    assert not b.state.is_audio_suspended
    await b.leave()
    assert not a.state.is_audio_suspended
