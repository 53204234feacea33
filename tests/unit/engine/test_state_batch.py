"""Group listeners of a state and batches: one change per decision for whoever redraws."""

from __future__ import annotations

from mctui.engine.state import AudioMode, CallState, StateWriter


def test_listen_any_hears_each_change_outside_a_batch_and_one_per_batch():
    state = CallState()
    writer = StateWriter(state)
    heard: list[str] = []
    stop = state.listen_any(
        (CallState.audio_mode, CallState.holds_speaker), lambda: heard.append("change")
    )
    writer.set(CallState.audio_mode, AudioMode.SUSPENDED)
    writer.set(CallState.holds_speaker, True)
    assert heard == ["change", "change"]
    heard.clear()
    with writer.batch():
        writer.set(CallState.audio_mode, AudioMode.FOCUSED)
        with writer.batch():  # nested: still one, at the outermost end
            writer.set(CallState.holds_speaker, False)
        assert heard == []
    assert heard == ["change"]
    heard.clear()
    with writer.batch():
        writer.set(CallState.audio_mode, AudioMode.FOCUSED)  # no change: nothing owed
        writer.set(CallState.is_capturing, True)  # a field the listener does not follow
    assert heard == []
    with writer.batch():
        writer.set(CallState.holds_speaker, True)
        stop()  # stopped inside the batch: owed nothing any more
    assert heard == []


def test_per_field_listeners_still_hear_each_change_at_once_inside_a_batch():
    state = CallState()
    writer = StateWriter(state)
    modes: list[AudioMode] = []
    state.observe(CallState.audio_mode).listen(modes.append)
    with writer.batch():
        writer.set(CallState.audio_mode, AudioMode.DUCKED)
        assert modes == [AudioMode.DUCKED]
