"""SVG snapshots of the TUI (pytest-textual-snapshot), levels and clocks frozen."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import pytest

from mctui import Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.audio.levels import FLOOR_DBFS
from mctui.engine.activity import HISTORY_S, Activity
from mctui.engine.bridge import LevelsChanged
from mctui.server.tokens import issue_token
from mctui.tui.app import MctuiApp
from mctui.tui.messages import EngineEvent
from mctui.tui.screens.ring import RingScreen
from testbed import SECRET
from threaded_env import ThreadedEnv

LEVELS = {"anna": -9.0, "ben": -24.0, "cleo": -4.0, "dave": -41.0, "erin": -15.0, "me": -20.0,
          "ana": -12.0, "cara": -7.0, "dev": -33.0, "host": -11.0}  # fmt: skip
NAMES = ["anna", "ben", "cleo", "dave", "erin"]
GREEK = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]


def frozen_levels(call, participant):  # type: ignore[no-untyped-def]
    if participant.is_local and not call.state.is_capturing:
        return FLOOR_DBFS, FLOOR_DBFS
    level = LEVELS.get(participant.user.id, -30.0)
    return level, level + 4


def frozen_activity(call):  # type: ignore[no-untyped-def]
    """A room's last two minutes, the same in every run: bursts of speech from the room's
    name, the last speaker a few seconds before the frozen clock (1000); unheard when the room
    is suspended."""
    seed = sum(map(ord, call.id))
    rng = random.Random(seed)
    seconds: list[bool] = []
    while len(seconds) < HISTORY_S:
        seconds += [False] * rng.randint(2, 12) + [True] * rng.randint(1, 6)
    name = NAMES[seed % len(NAMES)]
    return Activity(tuple(seconds[:HISTORY_S]), name, 1000.0 - 3 - seed % 40,
                    unheard=call.state.is_audio_suspended)  # fmt: skip


@pytest.fixture
def env() -> Iterator[ThreadedEnv]:
    environment = ThreadedEnv()
    yield environment
    environment.close()


def build_app(  # type: ignore[no-untyped-def]
    env: ThreadedEnv,
    rooms: list[str],
    policy=MultiCallAudioPolicy.SUSPEND_EXISTING,
    population: dict[str, list[str]] | None = None,
):
    if population is None:
        population = {
            room: NAMES[: 1 + (i % 3) + (1 if i == 0 else 0)] for i, room in enumerate(rooms)
        }
    env.populate(population)

    async def connect() -> Client:
        client = Client(
            env.server.url,
            User("me", "Me"),
            issue_token(SECRET, "me"),
            ClientOptions(multi_call_audio_policy=policy, audio_device="null"),
        )
        await client.connect()
        return client

    return MctuiApp(
        connect, rooms, clock=lambda: 1000.0, levels=frozen_levels, activity=frozen_activity
    )


async def until_ready(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    deadline = time.monotonic() + 15
    while not app.ready and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    # explicit pauses: pilot.pause() waits for an idle CPU, which the audio clock never gives
    await pilot.pause(0.1)
    for call in app.client.state.active_calls:  # draw the frozen levels now
        app.rooms_screen.post_message(EngineEvent(LevelsChanged(call)))
    await pilot.pause(0.1)


@pytest.mark.parametrize("count", [1, 2, 4, 9])
def test_rooms_160x48(snap_compare, env, count):
    app = build_app(env, GREEK[:count])
    assert snap_compare(app, terminal_size=(160, 48), run_before=until_ready)


@pytest.mark.parametrize("count", [1, 2, 4, 9])
def test_rooms_80x24(snap_compare, env, count):
    app = build_app(env, GREEK[:count])
    assert snap_compare(app, terminal_size=(80, 24), run_before=until_ready)


def test_ducked_room(snap_compare, env):
    app = build_app(env, ["alpha", "bravo"], policy=MultiCallAudioPolicy.DUCK_EXISTING)
    assert snap_compare(app, terminal_size=(120, 30), run_before=until_ready)


def test_suspended_by_hand(snap_compare, env):
    app = build_app(env, ["alpha", "bravo"])

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await until_ready(pilot)
        await pilot.press("s")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(120, 30), run_before=run_before)


def ringing(env: ThreadedEnv, caller: str, room: str):  # type: ignore[no-untyped-def]
    """A ``run_before`` that waits for the app, has ``caller`` ring "me", waits for the modal."""
    peer = env.peer(caller)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await until_ready(pilot)
        call = peer.make_call("default", room)
        asyncio.run_coroutine_threadsafe(call.ring(["me"]), env.loop).result(10)
        deadline = time.monotonic() + 10
        while not isinstance(pilot.app.screen, RingScreen) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await pilot.pause(0.1)

    return run_before


def test_ring_modal(snap_compare, env):
    app = build_app(env, ["alpha", "bravo"])
    assert snap_compare(app, terminal_size=(100, 30), run_before=ringing(env, "zoe", "zoe-private"))


#: What a hostile tester named himself (issue 25), each shown on the rendered screen.
HOSTILE = {
    "dave": "Dave\x1b[2J\x1b[H",
    "eve": "\x1b]2;PWNED\x07Eve",
    "mal": "Mal\nlory",
    "rtl": "\u202eevil\U0001f608\U0001f608\U0001f608\u202c" * 3,
}


def test_hostile_names_are_shown_as_text_and_keep_the_borders(snap_compare, monkeypatch):
    """A server that lets control characters through in names (ours refuses them at hello):
    the panes and the ring dialog show them as visible text, cut by cells, and no line of the
    screen is wider than the screen or carries a control character."""
    from rich.cells import cell_len

    from mctui.tui.widgets.room_pane import ParticipantRows

    monkeypatch.setattr("mctui.server.tokens.has_control_characters", lambda text: False)
    env = ThreadedEnv()
    try:
        for user_id, name in HOSTILE.items():
            env.peer(user_id, name)
        app = build_app(env, ["alpha"], population={"alpha": list(HOSTILE)})
        env.peer("zed", "Zed\x1b[31m" + "Z" * 80)  # rings "me" in run_before
        ring = ringing(env, "zed", "zed-private")

        async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
            await ring(pilot)
            panes = list(pilot.app.rooms_screen.query(ParticipantRows))  # behind the ring
            assert panes and all(rows.lines() for rows in panes)
            for rows in panes:
                for line in [*rows.lines(), rows.local_line() or ""]:
                    assert "\x1b" not in line and "\x07" not in line
                    assert cell_len(line) <= rows.size.width

        assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
    finally:
        env.close()


def test_demo_multicall(snap_compare, env):
    """The multicall demo's layout: suspend-incoming, alpha in front, bravo waiting."""
    app = build_app(
        env,
        ["alpha", "bravo"],
        policy=MultiCallAudioPolicy.SUSPEND_INCOMING,
        population={"alpha": ["ana", "ben"], "bravo": ["cara", "dev"]},
    )
    assert snap_compare(app, terminal_size=(110, 26), run_before=until_ready)


def test_demo_livestream_ring(snap_compare, env):
    """The livestream demo: watching a show when a friend rings."""
    app = build_app(env, ["livestream:show"], population={"livestream:show": ["host"]})
    before = ringing(env, "friend", "one-to-one")
    assert snap_compare(app, terminal_size=(110, 26), run_before=before)


def test_join_dialog_with_the_room_directory(snap_compare, env):
    """j: the rooms running on the server, busiest first, with how many are in each."""
    app = build_app(env, ["alpha"], population={
        "alpha": ["anna"], "standup": ["ben", "cleo"], "livestream:show": ["host"]})  # fmt: skip

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await until_ready(pilot)
        await pilot.press("j")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(110, 30), run_before=run_before)


def test_invite_dialog(snap_compare, env, monkeypatch):
    """i: the link, over the rooms (the link fixed for the image: its token and port vary)."""
    from mctui.engine.call import Call
    from mctui.engine.types import Invite

    link = ("http://127.0.0.1:8470/#call=default:alpha&token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXV"
            "CJ9.eyJzdWIiOiJndWVzdC1hYmNkZWYwMSIsIm5hbWUiOiJHdWVzdCJ9.c2lnbmF0dXJl")  # fmt: skip

    async def fixed_invite(self, ttl_s: int = 7200, name: str = "") -> Invite:  # type: ignore[no-untyped-def]
        return Invite(link, "guest-abcdef01", time.time() + 7200)  # "works in 2 h"

    monkeypatch.setattr(Call, "invite", fixed_invite)
    app = build_app(env, ["alpha"], population={"alpha": ["anna", "ben"]})

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await until_ready(pilot)
        await pilot.press("i")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(110, 30), run_before=run_before)


def test_monitoring_console(snap_compare, env, tmp_path):
    """The console: four rooms under duck-existing, placed left to right around the focused one;
    bravo patched in (TX), charlie recorded (REC), delta replaying; the selection (▷) on
    charlie while alpha keeps the focus."""
    from mctui.engine.state import CallState, StateWriter

    app = build_app(env, ["alpha", "bravo", "charlie", "delta"],
                    policy=MultiCallAudioPolicy.DUCK_EXISTING)  # fmt: skip

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await until_ready(pilot)
        calls = {c.id: c for c in pilot.app.client.state.active_calls}
        await pilot.press("1")  # alpha takes the focus; the others duck and spread out
        await pilot.pause(0.1)
        await calls["bravo"].set_transmit(True)
        await calls["charlie"].start_recording(tmp_path / "charlie.ogg")
        StateWriter(calls["delta"].state).set(CallState.replaying, 0.4)  # frozen progress
        await pilot.press("right", "right")  # select charlie, the focus stays on alpha
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(160, 40), run_before=run_before)
