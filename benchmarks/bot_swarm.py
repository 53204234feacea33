"""Helper process for the capacity benchmark: 3 speaking bots in each of N rooms."""

from __future__ import annotations

import asyncio
import sys

from common import SECRET

from mctui.bots import Bot, speech_like
from mctui.engine import User
from mctui.server.tokens import issue_token


async def main(url: str, rooms: int) -> None:
    bots = []
    for r in range(rooms):
        for b in range(3):
            uid = f"swarm{r}-{b}"
            bot = Bot(url, User(uid), issue_token(SECRET, uid), speech_like(seed=r * 3 + b),
                      room=f"cap{r}")  # fmt: skip
            await bot.start()
            bots.append(bot)
    print("SWARM READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for bot in bots:
        await bot.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
