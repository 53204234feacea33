"""A bounded fuzz run against a real ``mctui serve`` process, while a live call goes on.

A seeded generator sends 30,000 hostile WebSocket frames over 20 connections: random bytes,
non-JSON, non-objects, unknown types, wrong shapes and types, strings at and over the size limit,
deep nesting, requests before ``hello``, malformed SDP, call churn; and mutants of valid
requests, each with one field (``type`` and ``id`` included) replaced by a value of every JSON
type, and of a real aiortc offer, one line changed at a time (addresses, ports, fingerprints,
m-lines, ICE credentials), sent for a call the socket joined. It asserts: every reply
is a valid protocol message and never ``internal``; the server's log has no traceback; a bystander
listening to a tone in another call hears no gap over 100 ms; the server's RSS grows less than
100 MB. Figures are printed (``-s``) for the closing note.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from mctui import protocol as p
from mctui.audio.wav_backend import read_wav
from mctui.server.tokens import issue_token
from spectrum import longest_silence_ms
from testbed import real_offer

SECRET = "fuzz-secret-0123456789abcdefghijklmnop"
SOCKETS = 20
PER_SOCKET = 1500  # 30,000 frames in all
RSS_GROWTH_LIMIT_MB = 100
MAX_GAP_MS = 100


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


#: A valid request of each type (the fuzzer's mutants start from these).
def templates(token: str, offer: str) -> dict[str, dict[str, object]]:
    cid = "default:fz"
    return {
        "hello": {"version": 1, "token": token},
        "ping": {},
        "get_or_create_call": {"call_type": "default", "call_id": "fz", "members": ["m1"]},
        "join_call": {"call_type": "default", "call_id": "fz", "create": True},
        "leave_call": {"cid": cid},
        "end_call": {"cid": cid},
        "ring": {"cid": cid, "members": ["nobody"]},
        "accept_call": {"cid": cid},
        "reject_call": {"cid": cid, "reason": "busy"},
        "update_mute": {"cid": cid, "audio_muted": True},
        "sfu_signal": {"cid": cid, "role": "publisher", "sdp": offer, "sdp_type": "offer"},
        "sfu_candidate": {"cid": cid, "role": "publisher", "sdp_mid": "0",
                          "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"},
        "sfu_subscribe": {"cid": cid},
        "update_token": {"token": token},
        "create_invite": {"cid": cid, "ttl_s": 3600, "name": "guest"},
        "list_calls": {},
    }  # fmt: skip


def any_json(rng: random.Random) -> object:
    """A value of a JSON type picked at random, shallow or nested."""
    return rng.choice([
        None, True, False, 0, -1, 2**63, 1.5, float("1e308"), "", "x" * rng.randrange(1, 200),
        "\u202e\x1b[2J", [], [1, "a", None], {}, {"type": "ping"}, [[[]]], {"a": {"b": [1]}},
    ])  # fmt: skip


def mutated_request(rng: random.Random, rid: int, token: str, offer: str) -> str:
    """A valid request with one field (``type`` and ``id`` included) set to another JSON
    value, or a field added or removed."""
    kind = rng.choice(sorted(p.REQUEST_TYPES))
    message: dict[str, object] = {"type": kind, "id": rid, **templates(token, offer)[kind]}
    action = rng.randrange(3)
    if action == 0:
        message[rng.choice(sorted(message))] = any_json(rng)
    elif action == 1 and len(message) > 1:
        del message[rng.choice(sorted(message))]
    else:
        message[rng.choice(["extra", "members", "sdp", "role", "cid"])] = any_json(rng)
    return json.dumps(message)


def test_every_request_type_has_a_template_to_mutate() -> None:
    """A new request type needs its template here, or the fuzzer fails on it (a KeyError when
    list_calls came without one)."""
    assert set(templates("token", "sdp")) == set(p.REQUEST_TYPES)


def mutated_offer(rng: random.Random, rid: int, offer: str) -> str:
    """A real aiortc offer with one line changed: removed, doubled, or its address, port,
    fingerprint, ICE credential or m-line made wrong."""
    lines = offer.split("\r\n")
    at = rng.randrange(len(lines))
    line = lines[at]
    change = rng.randrange(6)
    if change == 0:
        del lines[at]
    elif change == 1:
        lines.insert(at, line)
    elif change == 2:
        lines[at] = line.replace("127.0.0.1", rng.choice(["999.1.1.1", "::zz", "-", "a" * 300]))
    elif change == 3:
        words = line.split(" ")
        words[rng.randrange(len(words))] = rng.choice(["99999", "-1", "x", "", "0"])
        lines[at] = " ".join(words)
    elif change == 4:
        lines[at] = rng.choice(
            [
                "a=fingerprint:sha-256 ZZ",
                "a=ice-ufrag:",
                "m=audio x RTP",
                "m=video 9 UDP/TLS/RTP/SAVPF 96",
                "c=IN IP6 1.2.3.4",
                "a=setup:x",
            ]
        )
    else:
        lines[at] = line[: rng.randrange(len(line) + 1)]
    role = rng.choice(["publisher", "subscriber"])
    return json.dumps({"type": "sfu_signal", "id": rid, "cid": "default:fz", "role": role,
                       "sdp": "\r\n".join(lines), "sdp_type": "offer"})  # fmt: skip


def hostile_frame(rng: random.Random, n: int, token: str, offer: str) -> str | bytes:
    """One frame of a kind picked at random (seeded)."""
    kind = rng.randrange(17)
    rid = n
    if kind == 14:
        return mutated_request(rng, rid, token, offer)
    if kind == 15:
        return mutated_offer(rng, rid, offer)
    if kind == 16:  # join the call the SDP mutants are for
        return json.dumps({"type": "join_call", "id": rid, "call_type": "default",
                           "call_id": "fz"})  # fmt: skip
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 300))
    if kind == 1:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 80)))
    if kind == 2:
        return json.dumps(rng.choice([[1, 2], "text", 42, None, True, 3.5]))
    if kind == 3:
        return json.dumps({"type": f"no_such_{rng.randrange(99)}", "id": rid})
    if kind == 4:  # known type, wrong shapes
        bad = rng.choice([{"a": 1}, [1, [2]], -5, "x" * 300, None, 1e308])
        field = rng.choice(["call_type", "call_id", "cid", "members", "reason", "sdp"])
        kind_name = rng.choice(sorted(p.REQUEST_TYPES))
        return json.dumps({"type": kind_name, "id": rid, field: bad})
    if kind == 5:  # near and over the size limit
        size = rng.choice([p.MAX_MESSAGE_BYTES - 200, p.MAX_MESSAGE_BYTES + 10, 200_000])
        return json.dumps({"type": "leave_call", "id": rid, "cid": "x" * size})
    if kind == 6:
        depth = rng.choice([50, 2_000, 30_000])
        return "[" * depth + "]" * depth
    if kind == 7:  # ids of odd types
        return json.dumps(
            {"type": "leave_call", "id": rng.choice([-1, "7", 1.5, None]), "cid": "a"}
        )
    if kind == 8:  # malformed SDP for a call this socket may or may not have joined
        sdp = rng.choice(["", "v=0", "v=0\r\nm=audio 9 RTP 0\r\n", "v=0\r\nm=audio x\r\n" * 50])
        role = rng.choice(["publisher", "subscriber", "viewer"])
        return json.dumps(
            {"type": "sfu_signal", "id": rid, "cid": "default:fz", "role": role, "sdp": sdp}
        )
    if kind == 9:  # call churn
        room = f"fz-{rng.randrange(40)}"
        verb = rng.choice(["join_call", "get_or_create_call"])
        return json.dumps(
            {"type": verb, "id": rid, "call_type": "default", "call_id": room, "members": []}
        )
    if kind == 10:
        return json.dumps(
            {"type": "leave_call", "id": rid, "cid": f"default:fz-{rng.randrange(40)}"}
        )
    if kind == 11:  # a second hello, or one with a bad token
        return json.dumps(
            {"type": "hello", "id": rid, "version": 1, "token": rng.choice([token, "junk", ""])}
        )
    if kind == 12:
        cid = f"default:fz-{rng.randrange(40)}"
        return json.dumps({"type": rng.choice(["ring", "end_call", "accept_call"]), "id": rid,
                           "cid": cid, "members": ["nobody"]})  # fmt: skip
    return json.dumps({"type": "update_mute", "id": rid, "cid": "default:fz", "audio_muted": 3})


async def fuzz_socket(
    url: str, index: int, offer: str, replies: Counter[str], events: Counter[str]
) -> None:
    rng = random.Random(1000 + index)
    user = f"fz{index}"
    token = issue_token(SECRET, user)
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/ws", max_msg_size=0) as ws:
        if index % 5 == 0:  # some sockets talk before saying hello
            await ws.send_str(json.dumps({"type": "join_call", "id": 0, "call_type": "default",
                                          "call_id": "early"}))  # fmt: skip
        else:
            await ws.send_str(json.dumps({"type": "hello", "id": 0, "version": 1, "token": token}))
        expected = 1
        for n in range(1, PER_SOCKET):
            frame = hostile_frame(rng, n, token, offer)
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            expected += 1
        answered = 0
        async with asyncio.timeout(120):
            while answered < expected:
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    replies["closed"] += 1
                    return
                assert msg.type is aiohttp.WSMsgType.TEXT, msg
                message = p.SERVER_MESSAGE_ADAPTER.validate_json(msg.data)  # valid protocol
                if isinstance(message, p.ErrorReply):
                    replies[message.code] += 1
                    answered += 1
                elif isinstance(message, p.Reply):
                    replies["ok"] += 1
                    answered += 1
                else:
                    events[message.type] += 1


@pytest.mark.slow
async def test_fuzz_the_server_while_a_call_goes_on(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("[server]\nmessages_per_second = 100000\nmessage_burst = 100000\n")
    log_file = tmp_path / "server.log"
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mctui", "serve", "--port", "0", "--secret", SECRET,
        "--config", str(config), "--log-file", str(log_file), "--log-level", "info",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    bot = None
    listener = None
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode()
        url = line.split("listening on ")[1].split()[0]
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mctui", "bot", "live", "--tone", "440", "--server", url,
            "--secret", SECRET, "--log-file", str(tmp_path / "bot.log"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert bot.stdout is not None
        await asyncio.wait_for(bot.stdout.readline(), 30)
        # the bystander listens in its own process, so only the server's stalls can cut it
        wav = tmp_path / "bystander.wav"
        listener = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mctui", "join", "live", "--server", url, "--user", "listener",
            "--secret", SECRET, "--headless", "--output-wav", str(wav), "--audio-profile", "hifi",
            "--log-file", str(tmp_path / "listener.log"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert listener.stdout is not None
        async with asyncio.timeout(30):
            while True:
                event = json.loads(await listener.stdout.readline())
                if event["event"] == "level" and event["heard"] and event["dbfs"] > -30:
                    break
        rss_before = rss_mb(server.pid)
        heard_from = event["t"]

        replies: Counter[str] = Counter()
        events: Counter[str] = Counter()
        started = asyncio.get_running_loop().time()
        offer = await real_offer()
        await asyncio.gather(*(fuzz_socket(url, i, offer, replies, events) for i in range(SOCKETS)))
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(1.0)
        rss_after = rss_mb(server.pid)
        assert listener.stdin is not None
        listener.stdin.write(b"quit\n")
        await listener.stdin.drain()
        await asyncio.wait_for(listener.wait(), 30)
        audio = read_wav(wav)
        mix = audio[int((heard_from + 0.5) * 48_000) :]  # from when the tone was flowing
        gap = longest_silence_ms(mix)
        sent = SOCKETS * PER_SOCKET
        print(
            f"\nfuzz: {sent} frames on {SOCKETS} sockets in {elapsed:.1f} s; replies "
            f"{dict(replies.most_common())}; events {dict(events)}; server RSS "
            f"{rss_before:.0f} -> {rss_after:.0f} MB; bystander longest gap {gap:.0f} ms over "
            f"{mix.size / 48_000:.1f} s"
        )
        assert sent >= 10_000
        assert replies["internal"] == 0
        assert sum(replies.values()) >= sent - SOCKETS  # every frame answered (or a close)
        assert rss_after - rss_before < RSS_GROWTH_LIMIT_MB
        assert mix.size / 48_000 >= elapsed, "the recording does not cover the fuzz run"
        assert gap <= MAX_GAP_MS, f"the bystander heard a {gap:.0f} ms gap"
    finally:
        for proc in (listener, bot, server):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
    text = log_file.read_text()
    assert "Traceback" not in text, text[text.index("Traceback") - 500 :][:3000]
    assert "Task exception was never retrieved" not in text
    assert "internal error" not in text
