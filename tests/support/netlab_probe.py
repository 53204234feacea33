"""What address does the SFU offer? Join a room with the raw protocol, send a real aiortc offer and
print the host addresses in the SFU's answer as JSON. Used in-process and, inside a test network
namespace, as a script: ``python netlab_probe.py URL TOKEN ROOM``."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from mctui.network import NetworkPolicy
from mctui.rtc.peer import close_peer_connection, new_peer_connection
from mctui.rtc.tracks import CaptureTrack


def candidate_addresses(sdp: str) -> list[str]:
    return sorted({line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")})


async def answer_candidates(url: str, token: str, room: str, local: str) -> dict[str, list[str]]:
    """The addresses in our offer and in the SFU's answer for a publisher connection."""
    ws_url = url.replace("http://", "ws://", 1).rstrip("/") + "/ws"
    pc = new_peer_connection(NetworkPolicy((local,)))
    track = CaptureTrack()
    try:
        pc.addTransceiver(track, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:

            async def ask(message: dict[str, object]) -> dict[str, object]:
                await ws.send_str(json.dumps(message))
                while True:
                    reply = json.loads((await ws.receive()).data)
                    if reply.get("id") == message["id"]:
                        return reply  # type: ignore[no-any-return]

            await ask({"type": "hello", "id": 1, "version": 1, "token": token})
            await ask({"type": "join_call", "id": 2, "call_type": "default", "call_id": room})
            answer = await ask(
                {
                    "type": "sfu_signal", "id": 3, "cid": f"default:{room}",
                    "role": "publisher", "sdp": pc.localDescription.sdp,
                }
            )  # fmt: skip
        result = answer.get("result")
        sdp = str(result.get("sdp", "")) if isinstance(result, dict) else ""
        return {
            "offer": candidate_addresses(pc.localDescription.sdp),
            "answer": candidate_addresses(sdp),
        }
    finally:
        track.stop()
        await close_peer_connection(pc)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(answer_candidates(*sys.argv[1:5]))))
