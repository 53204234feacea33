"""Invites and guests on the server, in process: who may invite, what a guest token may do, the
page the link opens. The browser itself is tried in ``test_guests.py``."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from helpers import wait_until
from mctui import CallType
from mctui import protocol as p
from mctui.errors import (
    CallNotFoundError,
    NotAMemberError,
    PermissionDeniedError,
)
from mctui.server.app import start_server
from mctui.server.limits import ServerLimits
from mctui.server.tokens import issue_token, verify_claims
from testbed import SECRET, connected


def link_parts(link: str) -> tuple[str, str, str]:
    """(page URL, call, token) of an invite link; the token is in the fragment."""
    parts = urlsplit(link)
    fragment = parse_qs(parts.fragment)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", fragment["call"][0], fragment["token"][0]


async def test_a_member_invites_a_guest_who_joins_only_that_call(make_client, server):
    owner = await make_client("owner")
    room = owner.make_call(CallType.DEFAULT, "meet")
    await room.join()
    invite = await room.invite(name="Ann")
    page, cid, token = link_parts(invite.link)
    assert page == server.url + "/" and cid == "default:meet"
    claims = verify_claims(SECRET, token)
    assert (claims.user_id, claims.name, claims.call) == (invite.guest_id, "Ann", "default:meet")
    assert abs(invite.expires_at - (time.time() + p.INVITE_TTL_S)) < 5
    guest = await connected(server.url, invite.guest_id, token)
    try:
        await guest.make_call(CallType.DEFAULT, "meet").join()
        for _ in range(50):
            if any(x.user.id == invite.guest_id for x in room.state.participants):
                break
            await asyncio.sleep(0.02)
        names = {x.user.id: x.user.name for x in room.state.participants}
        assert names[invite.guest_id] == "Ann"
        with pytest.raises(PermissionDeniedError, match="only join default:meet"):
            await guest.make_call(CallType.DEFAULT, "elsewhere").join()
        with pytest.raises(PermissionDeniedError, match="guest cannot invite"):
            await guest.request(p.CreateInviteRequest, cid="default:meet")
    finally:
        await guest.disconnect()


async def test_only_members_of_a_running_call_may_invite(make_client):
    owner = await make_client("owner")
    mallory = await make_client("mallory")
    await owner.make_call(CallType.DEFAULT, "private").join()
    with pytest.raises(NotAMemberError, match="only members"):
        await mallory.make_call(CallType.DEFAULT, "private").invite()
    with pytest.raises(CallNotFoundError):
        await mallory.make_call(CallType.DEFAULT, "nowhere").invite()


async def test_an_invite_lives_no_longer_than_the_server_allows(server):
    limits = ServerLimits(max_token_lifetime_s=3600)
    capped = await start_server(SECRET, port=0, limits=limits)
    owner = await connected(capped.url, "owner")
    try:
        room = owner.make_call(CallType.DEFAULT, "meet")
        await room.join()
        invite = await room.invite(ttl_s=20 * 3600)
        assert invite.expires_at <= time.time() + 3600 + 1
    finally:
        await owner.disconnect()
        await capped.stop()


async def test_a_guest_cannot_start_a_call_and_joins_once_it_runs(make_client, server):
    token = issue_token(SECRET, "guest-1", call="default:later")
    guest = await connected(server.url, "guest-1", token)
    try:
        early = guest.make_call(CallType.DEFAULT, "later")
        with pytest.raises(CallNotFoundError, match="not started yet"):
            await early.join()
        with pytest.raises(CallNotFoundError):
            await early.get_or_create()
        owner = await make_client("owner")
        started = await owner.request(p.JoinCallRequest, call_type="default", call_id="later")
        # a guest rejoining with a host's role claim (stolen, or its own) is never believed
        joined = await guest.request(
            p.JoinCallRequest, call_type="default", call_id="later",
            rejoin_role="host", role_claim=started.role_claim,
        )  # fmt: skip
        assert joined.role == "member"
        assert joined.call.created_by == "owner"
    finally:
        await guest.disconnect()


async def test_a_guest_in_a_livestream_is_a_viewer(make_client, server):
    host = await make_client("host")
    await host.make_call(CallType.LIVESTREAM, "show").join()
    invite = await host.make_call(CallType.LIVESTREAM, "show").invite()
    guest = await connected(server.url, invite.guest_id, link_parts(invite.link)[2])
    try:
        joined = await guest.request(p.JoinCallRequest, call_type="livestream", call_id="show")
        assert (joined.role, joined.can_publish) == ("viewer", False)
    finally:
        await guest.disconnect()


async def test_a_guest_connection_hears_no_rings_for_other_calls(make_client, server):
    owner = await make_client("owner")
    everywhere = await make_client("pat")
    scoped = await connected(server.url, "pat", issue_token(SECRET, "pat", call="default:meet"))
    try:
        rung: list[str] = []
        scoped.state.observe("incoming_call").listen(
            lambda call: rung.append(call.cid) if call is not None else None
        )
        await owner.make_call(CallType.DEFAULT, "other").ring(["pat"])
        await wait_until(everywhere.state, "incoming_call", lambda c: c is not None)
        # a ring of its own call does reach the scoped connection; the server sends each
        # connection's events in order, so a ring of "other" would have come first
        await owner.make_call(CallType.DEFAULT, "meet").ring(["pat"])
        await wait_until(scoped.state, "incoming_call", lambda c: c is not None)
        assert rung == ["default:meet"]
    finally:
        await scoped.disconnect()


async def test_the_page_comes_from_the_server_with_a_strict_policy(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/") as page:
            assert page.status == 200 and page.content_type == "text/html"
            html = await page.text()
            policy = page.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "script-src 'self'" in policy
            assert page.headers["Referrer-Policy"] == "no-referrer"
        assert 'src="/web/app.js"' in html and "http" not in html.split("<body>")[0]
        for path, kind, needle in (
            ("/web/app.js", "text/javascript", "mctuiGuest"),
            ("/web/style.css", "text/css", "prefers-color-scheme"),
        ):
            async with http.get(server.url + path) as asset:
                assert asset.status == 200 and asset.content_type == kind
                assert needle in await asset.text()
        async with http.get(server.url + "/web/../secret") as missing:
            assert missing.status == 404


async def test_joined_clients_are_told_the_servers_ice_servers():
    stun = p.IceServerInfo(urls=["stun:127.0.0.1:3478"])
    running = await start_server(SECRET, port=0, ice_servers=[stun])
    client = await connected(running.url, "owner")
    try:
        joined = await client.request(p.JoinCallRequest, call_type="default", call_id="x")
        assert joined.sfu.ice_servers == [stun]
    finally:
        await client.disconnect()
        await running.stop()


def test_the_invite_command_prints_a_link_and_refuses_bad_input_with_code_2(tmp_path):
    import subprocess
    import sys

    def invite(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mctui", "invite", *args, "--secret", SECRET,
             "--log-file", str(tmp_path / "invite.log")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    # nothing listens on 127.0.0.1:9: the link is made, and the command says nobody serves it
    made = invite("livestream:show", "--ttl", "30m", "--name", "Ann", "--server",
                  "http://127.0.0.1:9")  # fmt: skip
    assert made.returncode == 0, made.stderr
    page, cid, token = link_parts(made.stdout.strip().splitlines()[-1])
    assert (page, cid) == ("http://127.0.0.1:9/", "livestream:show")
    assert "no mctui server answers at http://127.0.0.1:9" in made.stderr
    claims = verify_claims(SECRET, token)
    assert claims.call == "livestream:show" and claims.name == "Ann"
    assert claims.user_id.startswith("guest-") and claims.expires_at <= time.time() + 1800 + 1
    for args, says in (
        (("bad room!",), "bad room name"),
        (("show", "--ttl", "30h"), "at most 24 h"),
        (("show", "--server", "ftp://x"), "http:// or https://"),
    ):
        refused = invite(*args)
        assert refused.returncode == 2 and says in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


async def test_the_room_directory_lists_running_calls_as_the_access_model_says(make_client, server):
    """list_calls: every running call, busiest first, with its type, how many are in it and
    how long it has run; who is in it only for its members; a guest sees its own call only;
    an empty or ended call is not listed."""
    alice, bob, carol = [await make_client(u) for u in ("alice", "bob", "carol")]
    for client in (alice, bob):
        await client.make_call(CallType.DEFAULT, "busy").join()
    await carol.make_call(CallType.LIVESTREAM, "show").join()
    quiet = alice.make_call(CallType.DEFAULT, "quiet")
    await quiet.join()
    await quiet.leave()  # empty now
    ended = carol.make_call(CallType.DEFAULT, "over")
    await ended.join()
    await ended.end()

    seen_by_carol = await carol.list_calls()
    assert [(r.cid, r.participant_count) for r in seen_by_carol] == [
        ("default:busy", 2), ("livestream:show", 1)]  # fmt: skip
    busy = seen_by_carol[0]
    assert busy.participants == [] and busy.running_s >= 0  # carol is no member of busy
    seen_by_alice = {r.cid: r for r in await alice.list_calls()}
    assert sorted(u.id for u in seen_by_alice["default:busy"].participants) == ["alice", "bob"]
    guest = await connected(server.url, "g1", issue_token(SECRET, "g1", call="livestream:show"))
    try:
        assert [r.cid for r in await guest.list_calls()] == ["livestream:show"]
    finally:
        await guest.disconnect()


async def test_an_invite_for_a_running_server_says_nothing_more(server, tmp_path):
    import asyncio
    import subprocess
    import sys

    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mctui", "invite", "standup", "--server", server.url, "--secret",
         SECRET, "--log-file", str(tmp_path / "invite.log")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0 and made.stderr == "", made.stderr
    assert link_parts(made.stdout.strip().splitlines()[-1])[1] == "default:standup"
