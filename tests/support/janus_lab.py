"""Janus for tests: a minimal configuration (core, WebSockets transport, VideoRoom only), started
inside the NetLab's server namespace on its TUN address, stopped by PID.

Janus never offers loopback candidates, so it cannot serve clients on 127.0.0.1: here it gathers
on the lab's ``tun-a`` only (``ice_enforce_list``), at 10.203.0.1, and the clients reach it from
the other namespace. Plugins and transports come from a folder of links to just the two modules
needed, so nothing else loads (no HTTP API, no other plugin). ``inside(ns)`` moves the calling
thread (the test's event loop) into a namespace and back, so in-process clients and coordinator
can use that network.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netlab import SERVER_IP, NetLab

LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")
CLONE_NEWNET = 0x40000000


def available() -> str | None:
    """Why Janus cannot run here, or None."""
    if not (LIBS / "plugins" / "libjanus_videoroom.so").exists():
        return "Janus is not installed (make test installs the Debian package janus)"
    return None


def write_config(folder: Path, ws_port: int, admin_key: str) -> Path:
    """The configuration files in ``folder``; returns the main one."""
    for kind, module in (("plugins", "libjanus_videoroom.so"),
                         ("transports", "libjanus_websockets.so")):  # fmt: skip
        (folder / kind).mkdir(parents=True, exist_ok=True)
        link = folder / kind / module
        if not link.exists():
            link.symlink_to(LIBS / kind / module)
    for empty in ("events", "loggers"):
        (folder / empty).mkdir(exist_ok=True)
    main = folder / "janus.jcfg"
    main.write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{folder}/plugins"
    transports_folder = "{folder}/transports"
    events_folder = "{folder}/events"
    loggers_folder = "{folder}/loggers"
    debug_level = 4
    session_timeout = 60
    server_name = "mctui-test"
}}
media: {{
    rtp_port_range = "20000-40000"
}}
nat: {{
    ice_enforce_list = "tun-a"
    full_trickle = false
}}
"""
    )
    (folder / "janus.transport.websockets.jcfg").write_text(
        f"""general: {{
    json = "compact"
    ws = true
    ws_port = {ws_port}
    ws_ip = "{SERVER_IP}"
    wss = false
}}
admin: {{
    admin_ws = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text(
        f"""general: {{
    admin_key = "{admin_key}"
    lock_rtp_forward = true
}}
"""
    )
    return main


def start(lab: NetLab, folder: Path, ws_port: int, admin_key: str) -> subprocess.Popen[Any]:
    """Janus in the lab's server namespace; returns once its WebSockets API listens."""
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, ws_port, admin_key)
    log = folder / "janus.log"
    process = lab.server_popen(
        ["janus", "-C", str(config), "-F", str(folder), "-L", str(log), "-o", "-i", SERVER_IP],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "ebsockets server started" in text:
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"Janus did not start: {log.read_text(errors='replace')[-1500:]}")


@contextlib.contextmanager
def one_instance(admin_key: str, ws_port: int = 8188) -> Iterator[tuple[NetLab, str, int]]:
    """A fresh NetLab with one Janus in its server namespace (for benchmarks): the lab, the
    instance's API URL and its PID; everything stopped and deleted afterwards. Raises
    ``RuntimeError`` with the reason when Janus or the lab cannot run here."""
    import tempfile

    import netlab

    for why in (netlab.available(), available()):
        if why is not None:
            raise RuntimeError(why)
    lab = netlab.NetLab().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            janus = start(lab, Path(folder), ws_port, admin_key)
            yield lab, f"ws://{SERVER_IP}:{ws_port}", janus.pid
    finally:
        lab.stop()


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    """Run the calling thread in network namespace ``ns`` (sockets it opens live there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns} failed")
        try:
            yield
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back failed")
    finally:
        os.close(target)
        os.close(home)
