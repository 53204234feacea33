"""Helper process for the capacity and TUI benchmarks: S speaking participants in each of N rooms.

They are ``sfu_load``'s light participants (real connections; pre-encoded Opus out, packets only
counted in), so one process can hold the 60-100 of them that the sweep needs on this 2-core
machine: full bots, each encoding its voice, could not all join in time, which capped the sweep
at 18 rooms before the client under test did.

Usage: ``bot_swarm.py URL ROOMS [SPEAKERS] [ROOM_PREFIX] [speech]``: rooms ``{ROOM_PREFIX}{r}``
(default ``cap``), 3 speakers each by default; ``speech`` makes their tone rise and fall as a
voice does (the TUI benchmark's meters must move). Prints ``SWARM READY``; stops at stdin's end.
"""

from __future__ import annotations

import asyncio
import sys

from sfu_load import LoadParticipant, opus_packets


async def main(url: str, rooms: int, speakers: int, prefix: str, speech: bool) -> None:
    payloads = opus_packets(100, speech=True) if speech else opus_packets()
    people = []
    for r in range(rooms):
        for b in range(speakers):
            person = LoadParticipant(url, f"swarm{r}-{b}", f"{prefix}{r}", payloads)
            await person.start(slots=speakers + 1)
            people.append(person)
    print("SWARM READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for person in people:
        await person.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(
            args[0],
            int(args[1]),
            int(args[2]) if len(args) > 2 else 3,
            args[3] if len(args) > 3 else "cap",
            len(args) > 4 and args[4] == "speech",
        )
    )
