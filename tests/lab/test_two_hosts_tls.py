"""A guest on another host: HTTPS across the lab's two namespaces.

``mctui serve`` runs in the server's namespace on ``SERVER_IP`` with a certificate for that
address (made by ``mctui.tls.self_signed``: the test's CA). In the clients' namespace a headless
``mctui join`` trusts it through ``--ca-file`` and plays a tone, and headless Chromium trusts it
through the certificate's public key (``--ignore-certificate-errors-spki-list``, the way a test
hands Chromium a private CA without touching the machine's store). The guest opens the invite
link, is heard and hears. The same page from a plain-HTTP server, opened from the other host (not
a secure context), says it needs HTTPS and asks for no microphone.

Then the same across hosts through Debian's nginx running ``contrib/nginx.conf`` (the README's
reverse-proxy example): nginx ends TLS on ``SERVER_IP``, mctui listens on the server's loopback
and binds media on ``SERVER_IP`` (``--media-host``), trusts the proxy's forwarded headers and
hands out invite links with its ``--public-url``.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import browser
import reverse_proxy
from browser import GUEST_HZ, Browser, guest_voice
from headless_proc import HeadlessJoin, hears
from mctui.audio.wav_backend import write_wav
from mctui.tls import self_signed
from netlab import SERVER_IP, NetLab, namespaces_left, wait_for_line

#: What this module needs of the lab (conftest.py: the tiers).
pytestmark = [pytest.mark.browser, pytest.mark.netns]

SECRET = "two-hosts-tls-secret-0123456789abcdef"
PORT = 8480
HTTPS = f"https://{SERVER_IP}:{PORT}"
HTTP = f"http://{SERVER_IP}:{PORT + 1}"
#: mctui behind nginx: on the server's loopback; nginx on SERVER_IP, the guests' URL.
UPSTREAM_PORT = PORT + 2
PROXIED = f"https://{SERVER_IP}:{PORT + 3}"
ROOM = "across"
LISTENER_HZ = 440


def spki_hash(cert: Path) -> str:
    """Base64 SHA-256 of the certificate's public key: what Chromium's flag names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def lab() -> Iterator[NetLab]:
    running = NetLab().start()
    try:
        yield running
    finally:
        running.stop()
        assert running.server_ns not in namespaces_left()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The test CA: a certificate for ``SERVER_IP`` and its key."""
    return self_signed(SERVER_IP, tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def page(
    lab: NetLab, cert: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """One Chromium in the clients' namespace that trusts the test CA; its mic a guest voice."""
    why = browser.available()
    if why is not None:
        pytest.fail(f"the browser tests cannot run here: {why}")
    workdir = tmp_path_factory.mktemp("chromium")
    capture = workdir / "guest-mic.wav"
    write_wav(capture, guest_voice(GUEST_HZ))
    chromium = Browser(
        SimpleNamespace(popen=lab.client_popen), workdir / "profile", capture,
        extra_flags=(f"--ignore-certificate-errors-spki-list={spki_hash(cert[0])}",),
    )  # fmt: skip
    try:
        yield chromium
    finally:
        chromium.stop()


def mctui(*args: str) -> list[str]:
    return [sys.executable, "-m", "mctui", *args]


def invite(base: str, workdir: Path) -> str:
    out = subprocess.run(
        mctui("invite", ROOM, "--server", base, "--secret", SECRET, "--name", "Ann",
              "--log-file", str(workdir / "invite.log")),
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return out.strip().splitlines()[-1]


def joined_guest_is_heard_and_hears(page: Browser, link: str, listener: HeadlessJoin) -> None:
    """The guest opens ``link`` from the clients' host, in a secure context: ``listener``
    hears its voice and it hears the listener's tone."""
    page.open(link)
    page.wait_for("mctuiGuest.phase === 'in-call'", timeout=30)
    assert page.evaluate("window.isSecureContext") is True
    guest = str(page.evaluate("mctuiGuest.me.id"))
    listener.wait(hears(guest, dbfs=-30), timeout=20)  # the guest is heard ...
    page.wait_for(  # ... and hears the listener's tone
        "mctuiGuest.stats().then(s => s.inbound.some(i => i.owner === 'listener' "
        "&& i.energy > 0.01))",
        timeout=20,
    )


def test_a_guest_on_another_host_joins_over_https_and_plain_http_says_it_needs_it(
    lab: NetLab, cert: tuple[Path, Path], page: Browser, tmp_path: Path
) -> None:
    cert_file, key = cert
    secure = lab.server_popen(
        mctui("serve", "--host", SERVER_IP, "--port", str(PORT), "--secret", SECRET,
              "--tls-cert", str(cert_file), "--tls-key", str(key),
              "--log-file", str(tmp_path / "serve.log")),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_line(secure, f"listening on {HTTPS}")
    plain = lab.server_popen(
        mctui("serve", "--host", SERVER_IP, "--port", str(PORT + 1), "--secret", SECRET,
              "--log-file", str(tmp_path / "plain.log")),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_line(plain, f"listening on {HTTP}")
    listener = HeadlessJoin(
        lab.client_popen, HTTPS, SECRET, "listener", [ROOM], tmp_path, "--ca-file", str(cert_file),
        hz=LISTENER_HZ,
    )  # fmt: skip
    listener.wait(lambda e: e["event"] == "joined", timeout=30)
    joined_guest_is_heard_and_hears(page, invite(HTTPS, tmp_path), listener)
    page.open(invite(HTTP, tmp_path))  # the same page, plain HTTP, from another host
    page.wait_for("document.body.innerText.includes('needs HTTPS')", timeout=20)
    assert page.evaluate("window.isSecureContext") is False
    assert page.evaluate("mctuiGuest.micReady") is not True


def test_behind_nginx_a_guest_on_another_host_gets_the_public_link_and_joins(
    lab: NetLab, cert: tuple[Path, Path], page: Browser, tmp_path: Path
) -> None:
    why = reverse_proxy.available()
    if why is not None:
        pytest.fail(f"the reverse-proxy test cannot run here: {why}")
    cert_file, key = cert
    server = lab.server_popen(
        mctui("serve", "--port", str(UPSTREAM_PORT), "--media-host", SERVER_IP,
              "--trusted-proxy", "127.0.0.1", "--public-url", PROXIED, "--secret", SECRET,
              "--log-file", str(tmp_path / "serve.log")),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_line(server, f"listening on http://127.0.0.1:{UPSTREAM_PORT}")
    site = reverse_proxy.site(
        f"{SERVER_IP}:{PROXIED.rsplit(':', 1)[1]}", SERVER_IP, cert_file, key, UPSTREAM_PORT
    )
    reverse_proxy.start(lab.server_popen, tmp_path / "nginx", site)
    listener = HeadlessJoin(
        lab.client_popen, PROXIED, SECRET, "listener", [ROOM], tmp_path,
        "--ca-file", str(cert_file), hz=LISTENER_HZ,
    )  # fmt: skip
    listener.wait(lambda e: e["event"] == "joined", timeout=30)
    listener.command(f"invite {ROOM} Bea")  # made by the server: its --public-url
    link = listener.wait(lambda e: e["event"] == "invite", timeout=20)["link"]
    assert link.startswith(f"{PROXIED}/#call="), link
    joined_guest_is_heard_and_hears(page, link, listener)
