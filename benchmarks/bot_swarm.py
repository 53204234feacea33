"""Helper process for the capacity benchmark: 3 speaking participants in each of N rooms.

They are ``sfu_load``'s light participants (real connections; pre-encoded Opus out, packets only
counted in), so one process can hold the 60-100 of them that the sweep needs on this 2-core
machine: full bots, each encoding its voice, could not all join in time, which capped the sweep
at 18 rooms before the client under test did.
"""

from __future__ import annotations

import asyncio
import sys

from sfu_load import LoadParticipant, opus_packets


async def main(url: str, rooms: int) -> None:
    payloads = opus_packets()
    people = []
    for r in range(rooms):
        for b in range(3):
            person = LoadParticipant(url, f"swarm{r}-{b}", f"cap{r}", payloads)
            await person.start(slots=4)
            people.append(person)
    print("SWARM READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for person in people:
        await person.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
