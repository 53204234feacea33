"""The rooms screen's display loop with real media: levels are pulled at the display rate (no
message per level change), only the lines whose meter moved are repainted, nothing is laid out
while people talk, come or go, and the loop sleeps once every room is silent."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from mctui import MultiCallAudioPolicy, User
from mctui.bots import Bot
from mctui.bots.signals import speech_like
from mctui.server.tokens import issue_token
from mctui.tui.messages import EngineEvent
from mctui.tui.widgets.room_pane import ParticipantRows, RoomPane
from testbed import SECRET
from tui_app import make_app, start


async def _until(condition: Any, timeout: float = 10.0, shown: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"the screen did not get there: {shown and shown()}"
        await asyncio.sleep(0.05)


async def test_a_talker_repaints_only_their_line_never_lays_out_and_silence_sleeps(
    sfu_server, monkeypatch
):
    talker = Bot(
        sfu_server.url, User("tess", "Tess"), issue_token(SECRET, "tess"),
        speech_like(seed=3, amplitude=0.5), room="alpha",
    )  # fmt: skip
    await talker.start()
    pushed: Counter[str] = Counter()
    original_init = EngineEvent.__init__

    def counting_init(self: EngineEvent, event: Any) -> None:
        pushed[type(event).__name__] += 1
        original_init(self, event)

    monkeypatch.setattr(EngineEvent, "__init__", counting_init)
    app, client, ready = make_app(
        sfu_server, ["alpha", "bravo"], MultiCallAudioPolicy.DUCK_EXISTING
    )
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await start(pilot, ready, timeout=15)
            screen = app.rooms_screen
            assert screen is not None
            rows = {p.call.id: p.query_one(ParticipantRows) for p in screen.query(RoomPane)}
            await _until(lambda: any("tess" in line and "-∞" not in line
                                     for line in rows["alpha"].lines()),
                         shown=lambda: rows["alpha"].lines())  # fmt: skip
            await _until(lambda: all(r.local_line() for r in rows.values()))  # both joined
            layouts = 0
            refresh_layout = screen._refresh_layout

            def counted(*args: Any, **kwargs: Any) -> None:
                nonlocal layouts
                layouts += 1
                refresh_layout(*args, **kwargs)

            monkeypatch.setattr(screen, "_refresh_layout", counted)
            settled = False
            for _ in range(20):  # the joins' last events are handled: a half second with no layout
                layouts = 0
                await asyncio.sleep(0.5)
                if settled := layouts == 0:
                    break
            assert settled, "the screen kept laying out after both rooms were joined"
            drawn: dict[str, Counter[int]] = {name: Counter() for name in rows}
            for name, widget in rows.items():
                render = widget.render_line

                def line(y: int, render: Any = render, name: str = name) -> Any:
                    drawn[name][y] += 1
                    return render(y)

                monkeypatch.setattr(widget, "render_line", line)
            pushed.clear()
            await asyncio.sleep(1.5)  # Tess talks: about 30 frames
            assert screen.display_awake
            assert drawn["alpha"][0] >= 5, drawn  # her meter moved, frame after frame
            assert set(drawn["alpha"]) == {0}, drawn  # and nothing else of alpha was redrawn
            assert not drawn["bravo"], drawn  # a silent room is not redrawn at all
            assert pushed["LevelsChanged"] == 0, pushed  # pulled: no message per level move
            assert layouts == 0
            await talker.stop()  # she leaves: her row goes, with a repaint and no layout
            await _until(lambda: not rows["alpha"].lines())
            await _until(lambda: not screen.display_awake)  # silence: the loop sleeps
            assert layouts == 0
            drawn["alpha"].clear()
            await asyncio.sleep(0.5)
            assert not drawn["alpha"], drawn
            await pilot.press("q")
    finally:
        await talker.stop()
        await client.disconnect()
