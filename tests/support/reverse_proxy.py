"""Debian's nginx in front of ``mctui serve``, configured by ``contrib/nginx.conf`` itself.

The README's example is that file; a test runs it with only the listening address, the name,
the certificate and the upstream port replaced (each replacement must find its text, so the
file and the test cannot drift apart), inside a small main configuration of the test's own:
no daemon, its pid and error log in the test's directory, nothing under ``/etc/nginx`` read.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NGINX = "/usr/sbin/nginx"
SITE = Path(__file__).parents[2] / "contrib" / "nginx.conf"


class ProxyError(RuntimeError):
    """nginx is missing, or did not start (its error log says why)."""


def available() -> str | None:
    """Why nginx cannot run here, or None."""
    if shutil.which(NGINX) is None:
        return f"{NGINX} is missing (make test installs Debian's nginx)"
    return None


def site(listen: str, name: str, cert: Path, key: Path, upstream_port: int) -> str:
    """``contrib/nginx.conf`` for this test: ``listen`` (``ADDRESS:PORT``), ``name``, the test
    CA's certificate, and mctui on ``127.0.0.1:upstream_port``."""
    text = SITE.read_text()
    for old, new in (
        ("listen 443 ssl;", f"listen {listen} ssl;"),
        ("server_name voice.example.org;", f"server_name {name};"),
        ("/etc/letsencrypt/live/voice.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/voice.example.org/privkey.pem", str(key)),
        ("proxy_pass http://127.0.0.1:8470;", f"proxy_pass http://127.0.0.1:{upstream_port};"),
    ):
        if old not in text:
            raise ProxyError(f"contrib/nginx.conf no longer says {old!r}: update the test")
        text = text.replace(old, new)
    return text


def start(
    popen: Callable[..., subprocess.Popen[Any]], workdir: Path, site_text: str
) -> subprocess.Popen[Any]:
    """nginx in the foreground (``popen`` picks the namespace and stops it by PID later);
    returns once its pid file says the master is up and ``nginx -t`` liked the file."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "mctui.conf").write_text(site_text)
    main = workdir / "nginx.conf"
    main.write_text(
        f"daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n  access_log off;\n  proxy_max_temp_file_size 0;\n"
        f"  include {workdir / 'mctui.conf'};\n}}\n"
    )
    argv = [NGINX, "-c", str(main), "-p", str(workdir), "-e", str(workdir / "error.log")]
    check = popen([*argv, "-t"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, said = check.communicate(timeout=30)  # in the namespace: -t also binds the address
    if check.returncode != 0:
        raise ProxyError(f"nginx -t refused the site: {said.strip()}")
    process = popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while not (workdir / "nginx.pid").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            log = (workdir / "error.log").read_text() if (workdir / "error.log").exists() else ""
            raise ProxyError(f"nginx did not start: {log[-2000:]}")
        time.sleep(0.05)
    return process
