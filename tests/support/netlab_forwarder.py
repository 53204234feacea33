"""The link between the two network namespaces of a ``NetLab``: a TUN device in each, and this
process copying IP packets between them with configurable loss, delay, jitter and blackholes.

This kernel has no netem, so impairment happens here, in userspace. Started inside namespace A
(``ip netns exec A python netlab_forwarder.py --peer-netns B``): it opens ``tun-a`` there, enters
namespace B through ``setns(2)`` and opens ``tun-b``. The TUN devices are not persistent, so they
vanish with this process.

Control: one JSON object per line on stdin, answered by ``ok {...counters...}`` on stdout:
``{"loss": 0.1, "delay_ms": 40, "jitter_ms": 20, "blackhole": false, "drop_udp": false,
"direction": "both"}``
(``direction``: ``a_to_b``, ``b_to_a`` or ``both``; omitted keys keep their value);
``{"stats": true}`` only reports the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import random
import struct
import sys
from dataclasses import asdict, dataclass, field

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
MTU = 65535


@dataclass
class Impairment:
    loss: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    blackhole: bool = False
    #: Drop UDP only (a firewall that lets signalling's TCP through and blocks media).
    drop_udp: bool = False


@dataclass
class Counters:
    forwarded: int = 0
    dropped: int = 0


@dataclass
class Direction:
    source: int
    sink: int
    impairment: Impairment = field(default_factory=Impairment)
    counters: Counters = field(default_factory=Counters)


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def enter_netns(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name} failed")
    finally:
        os.close(fd)


def _write(fd: int, packet: bytes) -> None:
    with contextlib.suppress(OSError):  # the device went down: lost, as on a wire
        os.write(fd, packet)


def _pump(direction: Direction, rng: random.Random, loop: asyncio.AbstractEventLoop) -> None:
    while True:
        try:
            packet = os.read(direction.source, MTU)
        except BlockingIOError:
            return
        except OSError:
            return
        imp = direction.impairment
        udp = len(packet) > 9 and packet[9] == 17
        if imp.blackhole or (imp.drop_udp and udp) or (imp.loss and rng.random() < imp.loss):
            direction.counters.dropped += 1
            continue
        direction.counters.forwarded += 1
        delay = imp.delay_ms + (rng.uniform(-imp.jitter_ms, imp.jitter_ms) if imp.jitter_ms else 0)
        if delay <= 0:
            _write(direction.sink, packet)
        else:
            loop.call_later(delay / 1000.0, _write, direction.sink, packet)


def _apply(directions: dict[str, Direction], command: dict[str, object]) -> None:
    which = str(command.get("direction", "both"))
    targets = list(directions.values()) if which == "both" else [directions[which]]
    for direction in targets:
        for key in ("loss", "delay_ms", "jitter_ms", "blackhole", "drop_udp"):
            if key in command:
                setattr(
                    direction.impairment,
                    key,
                    type(getattr(direction.impairment, key))(
                        command[key]  # type: ignore[call-overload]
                    ),
                )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-netns", required=True)
    parser.add_argument("--tun-a", default="tun-a")
    parser.add_argument("--tun-b", default="tun-b")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    fd_a = open_tun(args.tun_a)
    enter_netns(args.peer_netns)
    fd_b = open_tun(args.tun_b)
    directions = {"a_to_b": Direction(fd_a, fd_b), "b_to_a": Direction(fd_b, fd_a)}
    rng = random.Random(args.seed)
    loop = asyncio.get_running_loop()
    for direction in directions.values():
        loop.add_reader(direction.source, _pump, direction, rng, loop)
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            command = json.loads(line)
            _apply(directions, command)
            report = {name: asdict(d.counters) for name, d in directions.items()}
            print("ok " + json.dumps(report), flush=True)
        except (ValueError, KeyError, TypeError) as exc:
            print(f"error {exc}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
