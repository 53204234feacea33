"""The console's keys in the app, on the real engine: ← → select a room without moving the
focus, t patches the mic into it, w records it to a file, b replays it; each again undoes it;
the panes show TX, REC and REPLAY; the strip names who spoke."""

from __future__ import annotations

from helpers import wait_until
from mctui import MultiCallAudioPolicy
from mctui.tui.widgets.room_pane import RoomPane
from tui_app import make_app, start


async def test_select_transmit_record_replay(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, client, ready = make_app(
        server, ["alpha", "bravo"], MultiCallAudioPolicy.DUCK_EXISTING,
        client_options={"record_dir": str(tmp_path)},
    )  # fmt: skip
    async with app.run_test(size=(140, 36)) as pilot:
        await start(pilot, ready)
        calls = {c.id: c for c in client.state.active_calls}
        assert app.rooms_screen is not None
        panes = {p.call.id: p for p in app.rooms_screen.query(RoomPane)}
        assert client.state.focused_call is calls["alpha"]
        await pilot.press("right")  # select bravo: the focus stays
        await pilot.pause()
        assert client.state.focused_call is calls["alpha"]
        assert str(panes["bravo"].border_title).startswith("▷ 2 bravo")

        await pilot.press("t")
        await pilot.pause()
        assert calls["bravo"].state.transmit and calls["bravo"].state.is_capturing
        assert not calls["alpha"].state.transmit and client.state.focused_call is calls["alpha"]
        assert "TX" in str(panes["bravo"].border_subtitle)

        await pilot.press("w")
        await pilot.pause()
        recording = calls["bravo"].state.recording
        assert recording is not None and recording.startswith(str(tmp_path))
        assert "REC" in str(panes["bravo"].border_subtitle)
        await pilot.press("w")
        await wait_until(calls["bravo"].state, "recording", lambda r: r is None)
        assert list(tmp_path.glob("default-bravo-*.ogg"))

        await pilot.press("b")
        await wait_until(calls["bravo"].state, "replaying", lambda r: r is not None)
        await pilot.pause()
        assert "REPLAY" in str(panes["bravo"].border_subtitle)
        await pilot.press("b")
        await wait_until(calls["bravo"].state, "replaying", lambda r: r is None)

        await pilot.press("t")
        await pilot.pause()
        assert not calls["bravo"].state.transmit
        await pilot.press("left", "tab")  # back to alpha, then the focus moves on: to bravo
        await pilot.pause()
        assert client.state.focused_call is calls["bravo"]
        assert str(panes["bravo"].border_title).startswith("▶ 2 bravo")
        await pilot.press("q")
