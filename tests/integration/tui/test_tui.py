"""Pilot tests: the keys drive the real engine against a real coordinator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from helpers import wait_until
from mctui import CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.engine.bridge import LevelsChanged
from mctui.errors import CallNotFoundError
from mctui.server.tokens import issue_token
from mctui.tui.app import MctuiApp
from mctui.tui.messages import EngineEvent
from mctui.tui.screens.ring import RingScreen
from mctui.tui.widgets.room_pane import RoomPane, badges_for
from testbed import SECRET
from tui_app import make_app, start

SE = MultiCallAudioPolicy.SUSPEND_EXISTING


def pane(app: MctuiApp, name: str) -> RoomPane:
    assert app.rooms_screen is not None
    return next(p for p in app.rooms_screen.query(RoomPane) if p.call.id == name)


async def test_first_room_in_foreground_others_background(server):
    app, client, ready = make_app(server, ["alpha", "bravo", "charlie"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        assert client.state.focused_call.id == "alpha"
        calls = {c.id: c for c in client.state.active_calls}
        assert not calls["alpha"].state.is_audio_suspended
        assert calls["bravo"].state.is_audio_suspended and calls["charlie"].state.is_audio_suspended
        assert not calls["bravo"].state.microphone_enabled  # background joins: mic disabled
        assert len(app.rooms_screen.query(RoomPane)) == 3
        await pilot.press("q")


async def test_focus_keys_move_focus_and_suspension_follows(server):
    app, client, ready = make_app(server, ["alpha", "bravo", "charlie"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        await pilot.press("tab")
        await pilot.pause()
        calls = {c.id: c for c in client.state.active_calls}
        assert client.state.focused_call is calls["bravo"]
        assert (
            calls["alpha"].state.is_audio_suspended and not calls["bravo"].state.is_audio_suspended
        )
        assert pane(app, "bravo").has_class("-focused") and not pane(app, "alpha").has_class(
            "-focused"
        )
        await pilot.press("3")
        await pilot.pause()
        assert client.state.focused_call is calls["charlie"]
        assert calls["bravo"].state.is_audio_suspended
        await pilot.press("shift+tab")
        await pilot.pause()
        assert client.state.focused_call is calls["bravo"]
        await pilot.press("q")


async def test_mute_key_toggles_engine_microphone(server):
    app, client, ready = make_app(server, ["alpha"])
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, ready)
        call = client.state.active_calls[0]
        assert call.state.microphone_enabled and call.state.is_capturing
        await pilot.press("m")
        await pilot.pause()
        assert not call.state.microphone_enabled and not call.state.is_capturing
        await pilot.press("m")
        await pilot.pause()
        assert call.state.microphone_enabled
        await pilot.press("q")


async def test_plus_and_minus_change_the_selected_rooms_volume_and_its_badge(server):
    app, client, ready = make_app(server, ["alpha"])
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, ready)
        call = client.state.active_calls[0]
        await pilot.press("minus", "minus")
        await pilot.pause()
        assert call.state.volume_db == -6.0 and call.adm is not None
        assert call.adm.volume_db == -6.0  # the mixer's gain, not only the state
        assert "VOL -6" in str(pane(app, "alpha").border_subtitle)
        for _ in range(7):  # +12 is the top
            await pilot.press("plus")
        await pilot.pause()
        assert call.state.volume_db == 12.0
        assert "VOL +12" in str(pane(app, "alpha").border_subtitle)
        await pilot.press("q")


async def test_suspend_key_by_hand(server):
    app, client, ready = make_app(server, ["alpha"])
    async with app.run_test(size=(100, 30)) as pilot:
        await start(pilot, ready)
        call = client.state.active_calls[0]
        await pilot.press("s")
        await pilot.pause()
        assert call.state.is_audio_suspended and call.suspended_by_user
        assert "SUSPENDED" in badges_for(call, False)
        await pilot.press("s")
        await pilot.pause()
        assert not call.state.is_audio_suspended
        await pilot.press("q")


async def test_ring_modal_accepts_and_rejects(server, make_client):
    bob = await make_client("bob")
    app, client, ready = make_app(server, ["alpha"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        first = bob.make_call(CallType.DEFAULT, "bob-1")
        await first.ring(["me"])
        await wait_until(client.state, "incoming_call", lambda c: c is not None)
        await pilot.pause()
        assert isinstance(app.screen, RingScreen)
        assert "Accepting will suspend audio in: alpha" in app.screen.consequence
        await pilot.press("a")
        await wait_until(client.state, "focused_call", lambda c: c is not None and c.id == "bob-1")
        assert [c.id for c in client.state.active_calls] == ["alpha", "bob-1"]

        second = bob.make_call(CallType.DEFAULT, "bob-2")
        await second.ring(["me"])
        await wait_until(client.state, "incoming_call", lambda c: c is not None)
        await pilot.pause()
        assert isinstance(app.screen, RingScreen)
        await pilot.press("r")
        await wait_until(second.state, "ring_responses", lambda r: r == {"me": "decline"})
        assert "bob-2" not in [c.id for c in client.state.active_calls]
        await pilot.press("q")


async def test_leaving_focused_room_resumes_previous_and_badges_follow(server):
    app, client, ready = make_app(server, ["alpha", "bravo"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        await pilot.press("2")
        await pilot.pause()
        assert client.state.focused_call.id == "bravo"
        await pilot.press("l")
        await pilot.pause()
        alpha = client.state.active_calls[0]
        assert [c.id for c in client.state.active_calls] == ["alpha"]
        assert not alpha.state.is_audio_suspended and client.state.focused_call is alpha
        assert pane(app, "alpha").has_class("-focused")
        assert len(app.rooms_screen.query(RoomPane)) == 1
        await pilot.press("q")


async def test_q_leaves_every_call(server, make_client):
    watcher = await make_client("watcher")
    app, client, ready = make_app(server, ["alpha", "bravo"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        calls = client.state.active_calls
        await pilot.press("q")
        await pilot.pause()
    assert client.state.active_calls == []
    assert all(c.state.connection == "left" for c in calls)
    # nobody is left in the room, so the server has freed it
    with pytest.raises(CallNotFoundError):
        await watcher.make_call(CallType.DEFAULT, "alpha").get()


async def test_join_dialog_and_policy_cycle(server):
    app, client, ready = make_app(server, ["alpha"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        await pilot.press("j")
        await pilot.pause()
        await pilot.press(*"livestream:show", "enter")
        await wait_until(client.state, "active_calls", lambda calls: len(calls) == 2)
        assert client.state.active_calls[1].type is CallType.LIVESTREAM
        await pilot.press("p")
        assert client.multi_call_audio_policy is MultiCallAudioPolicy.SUSPEND_INCOMING
        await pilot.press("q")


@pytest.mark.slow
async def test_focus_keys_work_while_8_rooms_of_4_speakers_animate(server, make_client):
    """Behaviour only: every focus key lands while all 32 meters move. How fast is a benchmark's
    question (benchmarks/tui_cost.py), not a unit test's."""
    rooms = [f"room{i}" for i in range(8)]
    for i, room in enumerate(rooms):
        for j in range(4):
            peer = await make_client(f"p{i}-{j}")
            await peer.make_call(CallType.DEFAULT, room).join()

    def moving_levels(call, participant):  # type: ignore[no-untyped-def]
        phase = hash(participant.user.id) % 100
        level = -35 + 25 * math.sin(time.monotonic() * 6 + phase)
        return level, level + 3

    app, client, ready = make_app(server, rooms, levels=moving_levels)
    async with app.run_test(size=(160, 48)) as pilot:
        await start(pilot, ready)
        stop = asyncio.Event()

        async def meters() -> None:  # what the engine does at 20 Hz for every call
            while not stop.is_set():
                for call in client.state.active_calls:
                    app.rooms_screen.post_message(EngineEvent(LevelsChanged(call)))
                await asyncio.sleep(0.05)

        driver = asyncio.get_running_loop().create_task(meters())
        await asyncio.sleep(0.5)
        calls = client.state.active_calls
        for target, expected in (("2", 1), ("5", 4), ("8", 7), ("1", 0), ("tab", 1), ("tab", 2)):
            app.simulate_key(target)  # queued behind the meter updates, like a real key press
            await wait_until(
                client.state,
                "focused_call",
                lambda c, e=expected: c is calls[e],  # type: ignore[misc]
                timeout=5,
            )
            assert calls[expected].state.is_capturing
        stop.set()
        await driver
        await pilot.press("q")


@pytest.mark.parametrize("width", [80, 160])
def test_grid_reflows(width):
    from mctui.tui.screens.rooms import grid_columns

    assert grid_columns(1, width) == 1
    assert grid_columns(2, width) == 2
    assert grid_columns(9, 80) == 2 and grid_columns(9, 160) == 3
    assert grid_columns(4, width) == 2


# --- the core flow as a user meets it -------------------------------------------------------------


def status(app: MctuiApp) -> str:
    from mctui.tui.widgets.status_bar import StatusBar

    assert app.rooms_screen is not None
    return str(app.rooms_screen.query_one(StatusBar).render())


async def test_tab_makes_the_mic_live_in_the_room_that_took_focus(server):
    app, client, ready = make_app(server, ["alpha", "bravo"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        alpha, bravo = client.state.active_calls
        assert not bravo.state.microphone_enabled  # joined in the background
        await pilot.press("tab")
        await pilot.pause()
        assert client.state.focused_call is bravo
        assert bravo.state.is_capturing and not alpha.state.is_capturing
        assert "mic bravo" in status(app)
        await pilot.press("m")  # a hand mute in bravo...
        await pilot.pause()
        assert "mic muted in bravo" in status(app)
        await pilot.press("tab", "tab")  # ...survives a round trip of the focus
        await pilot.pause()
        assert client.state.focused_call is bravo and not bravo.state.is_capturing
        await pilot.press("m")
        await pilot.pause()
        assert bravo.state.is_capturing
        await pilot.press("q")


async def test_s_toggles_the_same_room_and_digits_beyond_rooms_say_so(server):
    app, client, ready = make_app(server, ["alpha", "bravo", "charlie"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        alpha, bravo, _ = client.state.active_calls
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert bravo.state.is_audio_suspended and bravo.suspended_by_user
        await pilot.press("s")
        await pilot.pause()
        assert not bravo.state.is_audio_suspended, "the second s must resume the same room"
        assert alpha.state.is_audio_suspended
        await pilot.press("5")
        await pilot.pause()
        assert client.state.focused_call is bravo
        assert "no room 5: 3 rooms joined" in status(app)
        await pilot.press("q")


async def test_app_keys_do_not_fire_behind_dialogs(server):
    from mctui.tui.screens.help import HelpScreen
    from mctui.tui.screens.join import JoinScreen

    app, client, ready = make_app(server, ["alpha", "bravo"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        alpha = client.state.active_calls[0]
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")  # closes help, never stacks a second one
        await pilot.pause()
        assert app.screen is app.rooms_screen
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("q")  # closes help; the app and the calls stay
        await pilot.pause()
        assert app.is_running and len(client.state.active_calls) == 2
        assert app.screen is app.rooms_screen
        await pilot.press("j")
        await pilot.pause()
        assert isinstance(app.screen, JoinScreen)
        await pilot.press("tab", "m", "2", "s", "l")  # typed into the dialog, not the rooms
        await pilot.pause()
        assert client.state.focused_call is alpha and alpha.state.microphone_enabled
        assert len(client.state.active_calls) == 2
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")


async def test_grid_reflows_at_once_on_resize_and_footer_keeps_quit(server):
    from textual.containers import Grid
    from textual.widgets._footer import FooterKey

    app, client, ready = make_app(server, ["alpha", "bravo"])
    async with app.run_test(size=(140, 36)) as pilot:
        await start(pilot, ready)
        grid = app.rooms_screen.query_one("#rooms", Grid)
        assert grid.styles.grid_size_columns == 2
        await pilot.resize_terminal(60, 30)
        await pilot.pause()
        await pilot.pause()
        assert grid.styles.grid_size_columns == 1
        assert all(p.region.width >= 50 for p in app.rooms_screen.query(RoomPane)), (
            "panes are clipped"
        )
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        for kept in ("Quit", "Help"):  # the footer cuts its last keys at 80 columns, not these
            keys = [k for k in app.rooms_screen.query(FooterKey) if k.description == kept]
            assert keys and keys[0].region.right <= 80 and keys[0].region.width > 0, kept
        assert "mic alpha" in status(app)
        await pilot.press("q")


async def test_clicking_a_pane_moves_the_focus_there(server):
    app, client, ready = make_app(server, ["alpha", "bravo"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        bravo = client.state.active_calls[1]
        await pilot.click(pane(app, "bravo"))
        await wait_until(client.state, "focused_call", lambda c: c is bravo)
        assert bravo.state.is_capturing
        await pilot.press("q")


async def test_a_ring_rings_with_the_callers_name_and_a_countdown(server, make_client):
    bob = await make_client("bob")
    app, client, ready = make_app(server, ["alpha"])
    bells: list[float] = []
    app.bell = lambda: bells.append(time.monotonic())  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        await bob.make_call(CallType.DEFAULT, "bob-1").ring(["me"])
        await wait_until(client.state, "incoming_call", lambda c: c is not None)
        await pilot.pause()
        assert isinstance(app.screen, RingScreen) and bells
        assert app.screen.caller == "bob"
        left = app.screen.seconds_left()
        assert left is not None and 0 < left <= 2  # the test server's ring timeout is 2 s
        countdown = str(app.screen.query_one("#ring-countdown").render())
        assert countdown.startswith("missed in ")
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("q")


async def test_a_failed_connect_ends_the_app_with_code_1_and_a_reason():
    from mctui.errors import ServerUnreachableError

    async def connect() -> Client:
        raise ServerUnreachableError("cannot reach the server at ws://127.0.0.1:9/ws")

    app = MctuiApp(connect, ["alpha"])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
    assert app.return_code == 1
    assert app.failure is not None and "cannot reach the server" in app.failure


async def test_the_tui_shows_reconnecting_and_recovers_when_the_server_comes_back():
    """The test stops the server and starts a new one on the same port: each pane says
    RECONNECTING and the status line the attempt, at once (watched, not on the next key);
    then everything is back, with the focus and the hand suspension as they were."""
    from mctui.server.app import start_server

    first = await start_server(SECRET, "127.0.0.1", 0)
    port = first.port
    app, client, ready = make_app(first, ["alpha", "bravo"])
    second = None
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await start(pilot, ready)
            await pilot.press("2")  # focus bravo; alpha is suspended by the policy
            await pilot.pause()
            calls = {c.id: c for c in client.state.active_calls}
            await first.stop()
            await wait_until(client.state, "connection", lambda c: c.value == "reconnecting")
            await wait_until(client.state, "reconnect_attempt", lambda n: n >= 2, timeout=10)
            await pilot.pause()
            assert "reconnecting… (attempt" in status(app)
            for name in ("alpha", "bravo"):
                assert "RECONNECTING" in badges_for(calls[name], False)
                assert "RECONNECTING" in str(pane(app, name).border_subtitle)
            second = await start_server(SECRET, "127.0.0.1", port)
            for call in calls.values():
                await wait_until(call.state, "connection", lambda c: c.value == "joined", 10)
            await pilot.pause()
            assert "● connected" in status(app).replace("[green]", "").replace("[/]", "")
            assert "RECONNECTING" not in str(pane(app, "bravo").border_subtitle)
            assert client.state.focused_call is calls["bravo"]
            assert calls["alpha"].state.is_audio_suspended
            await pilot.press("q")
    finally:
        if second is not None:
            await second.stop()


async def test_with_no_server_at_start_the_tui_retries_and_says_so_then_gives_up():
    from textual.widgets import Static

    client = Client(
        "http://127.0.0.1:9", User("me"), issue_token(SECRET, "me"),
        ClientOptions(audio_device="null", reconnect_timeout_s=2.0),
    )  # fmt: skip

    async def connect() -> Client:
        await client.connect(retry=True)
        return client

    app = MctuiApp(connect, ["alpha"], connecting=client)
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(client.state, "reconnect_attempt", lambda n: n >= 2, timeout=5)
        await pilot.pause()
        text = str(app.screen.query_one("#empty", Static).render())
        assert "attempt" in text and "cannot reach the server" in text, text
        async with asyncio.timeout(10):
            while app.return_code is None:
                await pilot.pause(0.1)
    assert app.return_code == 1
    assert app.failure is not None and "cannot reach the server" in app.failure


async def test_i_shows_the_rooms_invite_link_copies_it_and_the_guest_appears(server):
    from urllib.parse import parse_qs, urlsplit

    from mctui.server.tokens import verify_claims
    from mctui.tui.screens.invite import InviteScreen
    from mctui.tui.widgets.room_pane import ParticipantRows

    app, client, ready = make_app(server, ["alpha"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        await pilot.press("i")
        await _until(pilot, lambda: isinstance(app.screen, InviteScreen))
        # a dialog over the rooms, as the others are: centred, the panes and status behind it
        dialog = app.screen.query_one("#invite-dialog")
        assert dialog.region.x > 0 and dialog.region.y > 0
        behind = app.export_screenshot()
        assert "alpha" in behind and "suspend-existing" in behind
        link = app.screen.invite.link
        assert app.clipboard == link  # OSC 52: Textual writes it to the terminal too
        shown = str(app.screen.query_one("#invite-link").render())
        assert link[:60] in shown.replace("\n", "")
        fragment = parse_qs(urlsplit(link).fragment)
        assert link.startswith(server.url + "/#") and fragment["call"] == ["default:alpha"]
        claims = verify_claims(SECRET, fragment["token"][0])
        assert claims.call == "default:alpha" and claims.name == "Guest"
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, InviteScreen))
        guest = Client(
            server.url, User(claims.user_id), fragment["token"][0],
            ClientOptions(audio_device="null"),
        )  # fmt: skip
        await guest.connect()
        try:
            await guest.make_call(CallType.DEFAULT, "alpha").join()
            rows = pane(app, "alpha").query_one(ParticipantRows)
            await _until(pilot, lambda: "Guest" in "\n".join(rows.lines()))
        finally:
            await guest.disconnect()
        await pilot.press("q")


async def _until(pilot, condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the screen did not get there in time"
        await pilot.pause(0.05)


async def test_leaving_the_focused_room_gives_the_focus_back_under_suspend_incoming(server):
    """Under suspend-incoming nothing resumes by itself: after 3 and l (leave charlie) the
    user heard nothing before. Now the room that had the focus before (alpha) takes it, mic
    included, and the status line says so."""
    app, client, ready = make_app(
        server, ["alpha", "bravo", "charlie"], MultiCallAudioPolicy.SUSPEND_INCOMING
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        await pilot.press("3")
        await wait_until(
            client.state, "focused_call", lambda c: c is not None and c.id == "charlie"
        )
        await pilot.press("l")
        await wait_until(client.state, "focused_call", lambda c: c is not None and c.id == "alpha")
        alpha = client.state.focused_call
        assert alpha is not None and not alpha.state.is_audio_suspended
        assert alpha.state.holds_microphone and alpha.state.microphone_enabled
        assert [c.id for c in client.state.active_calls] == ["alpha", "bravo"]
        await _until(pilot, lambda: "alpha has the focus now" in status(app))
        await pilot.press("q")


async def test_keys_that_can_do_nothing_say_why(server, make_client):
    """a and r with no ring, m as a livestream viewer, s on the only room: one line each in
    the status line instead of silence."""
    host = await make_client("host")
    await host.make_call(CallType.LIVESTREAM, "show").join()
    app, client, ready = make_app(server, ["livestream:show"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)
        for key, words in (("a", "no call is ringing"), ("r", "no call is ringing"),
                           ("m", "you are a viewer in show"), ("s", "show suspended")):  # fmt: skip
            await pilot.press(key)
            await _until(pilot, lambda w=words: w in status(app))  # type: ignore[misc]
        await pilot.press("q")


async def test_the_join_dialog_lists_running_rooms_filters_as_you_type_and_joins(
    server, make_client
):
    """j lists the rooms running on the server (not the ones you are in); typing filters the
    list; Enter joins the highlighted room; a name that matches nothing is joined as typed."""
    from textual.widgets import OptionList

    from mctui.tui.screens.join import JoinScreen

    for user in ("ann", "ben"):
        await (await make_client(user)).make_call(CallType.DEFAULT, "standup").join()
    await (await make_client("host")).make_call(CallType.LIVESTREAM, "show").join()
    app, client, ready = make_app(server, ["alpha"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)

        def listed() -> list[str]:
            return [str(o.id) for o in app.screen.query_one(OptionList).options]

        await pilot.press("j")
        await _until(pilot, lambda: isinstance(app.screen, JoinScreen))
        assert listed() == ["default:standup", "livestream:show"]  # busiest first, no alpha
        await pilot.press("s", "t", "a")
        await _until(pilot, lambda: listed() == ["default:standup"])
        await pilot.press("enter")
        await wait_until(client.state, "active_calls", lambda cs: "standup" in [c.id for c in cs])
        await pilot.press("j")
        await _until(pilot, lambda: isinstance(app.screen, JoinScreen))
        assert listed() == ["livestream:show"]
        await pilot.press(*"brandnew", "enter")
        await wait_until(client.state, "active_calls", lambda cs: "brandnew" in [c.id for c in cs])
        await pilot.press("q")


async def test_your_row_says_muted_only_when_you_muted_that_room(server):
    """A background room (joined with the mic off, or left by Tab) says your mic is "not sent"
    there, with its own glyph; "muted" is kept for a room you muted by hand, and stays."""
    from mctui.tui.widgets.room_pane import ParticipantRows

    app, client, ready = make_app(server, ["alpha", "bravo"])
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, ready)

        def you(name: str) -> str:
            return (pane(app, name).query_one(ParticipantRows).local_line() or "").strip()

        await _until(pilot, lambda: "not sent" in you("bravo") and you("bravo").startswith("·"))
        assert "muted" not in you("bravo") and "dB" in you("alpha")
        await pilot.press("m")  # alpha has the focus: a hand mute there
        await _until(pilot, lambda: you("alpha").startswith("✕") and "muted" in you("alpha"))
        await pilot.press("tab")  # bravo now, and back
        await wait_until(client.state, "focused_call", lambda c: c is not None and c.id == "bravo")
        await _until(pilot, lambda: "not sent" not in you("bravo"))
        await pilot.press("tab")
        await wait_until(client.state, "focused_call", lambda c: c is not None and c.id == "alpha")
        await _until(pilot, lambda: "not sent" in you("bravo") and "muted" in you("alpha"))
        await pilot.press("q")
