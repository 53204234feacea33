"""HTTPS and WSS: a server with a certificate, clients that trust it through a CA file (what a
guest on another machine needs for a microphone), and a clear error for those that do not."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import pytest

from mctui import CallType, ClientOptions
from mctui.errors import ServerUnreachableError
from mctui.server.app import start_server
from mctui.tls import TlsError, fingerprint, self_signed, tls_context
from testbed import SECRET, connected_client


async def test_a_client_trusting_the_ca_joins_over_wss_and_one_that_does_not_is_told(tmp_path):
    cert, key = self_signed("127.0.0.1", tmp_path)
    server = await start_server(SECRET, "127.0.0.1", 0, ssl_context=tls_context(cert, key))
    clients: list = []  # type: ignore[type-arg]
    try:
        assert server.url.startswith("https://127.0.0.1:")
        options = ClientOptions(audio_device="null", ca_file=str(cert))
        alice = await connected_client(server.url, "alice", options, {}, clients)
        call = alice.make_call(CallType.DEFAULT, "secure")
        await call.join()
        assert call.state.connection.value == "joined"
        with pytest.raises(ServerUnreachableError, match="does not trust"):
            await connected_client(
                server.url, "mallory", ClientOptions(audio_device="null"), {}, clients
            )
        async with aiohttp.ClientSession() as http:  # the page, over HTTPS only
            from mctui.tls import client_context

            async with http.get(server.url + "/health", ssl=client_context(cert)) as answer:
                assert answer.status == 200
            with pytest.raises(aiohttp.ClientError):
                await http.get(server.url.replace("https", "http") + "/health")
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()


def test_the_self_signed_certificate_is_kept_and_bad_files_are_typed_errors(tmp_path):
    cert, key = self_signed("localhost", tmp_path)
    again = self_signed("localhost", tmp_path)
    assert again == (cert, key) and oct(key.stat().st_mode & 0o777) == "0o600"
    assert len(fingerprint(cert).split(":")) == 32
    with pytest.raises(TlsError, match="no such file"):
        tls_context(tmp_path / "missing.crt", key)
    other, _ = self_signed("127.0.0.1", tmp_path)
    with pytest.raises(TlsError, match="cannot use"):
        tls_context(other, key)  # not the key of that certificate


@pytest.mark.slow  # a process of its own (make test runs it)
async def test_mctui_serve_tls_self_signed_says_its_url_fingerprint_and_metrics(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mctui", "serve", "--port", "0", "--secret", SECRET,
        "--tls-self-signed", "127.0.0.1", "--log-file", str(tmp_path / "log"),
        "--metrics-port", "0",
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        second = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        third = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "self-signed certificate" in first and "SHA-256" in first
        assert "listening on https://127.0.0.1:" in second
        metrics_url = third.split("metrics on ")[1].strip()
        assert metrics_url.startswith("http://127.0.0.1:")  # plain, on loopback, its own port
        async with aiohttp.ClientSession() as http, http.get(metrics_url) as answer:
            assert "mctui_connections 0.0" in await answer.text()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.slow  # a process of its own (make test runs it)
def test_tls_cert_without_key_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mctui", "serve", "--tls-cert", str(tmp_path / "a.crt"),
         "--secret", SECRET, "--log-file", str(tmp_path / "log")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "go together" in done.stderr


@pytest.mark.slow  # a process of its own (make test runs it)
async def test_mctui_join_headless_reaches_an_https_server_with_ca_file(tmp_path):
    """The command line's path: https:// -> wss://, the self-signed certificate trusted through
    --ca-file; the same join without it fails with the one line that says why."""
    import json

    cert, key = self_signed("127.0.0.1", tmp_path)
    server = await start_server(SECRET, "127.0.0.1", 0, ssl_context=tls_context(cert, key))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    base = ["join", "alpha", "--server", server.url, "--headless", "--audio-backend", "null",
            "--secret", SECRET, "--reconnect-timeout", "1"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mctui", *base, "--ca-file", str(cert),
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            while True:
                line = await proc.stdout.readline()
                assert line, "mctui join ended before joining"
                if json.loads(line).get("event") == "joined":
                    break
        listed = await asyncio.create_subprocess_exec(  # mctui rooms over https too
            sys.executable, "-m", "mctui", "rooms", "--server", server.url, "--json",
            "--secret", SECRET, "--ca-file", str(cert), stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(listed.communicate(), 60)
        assert listed.returncode == 0 and '"alpha"' in out.decode(), out
        bot = await asyncio.create_subprocess_exec(  # and a bot
            sys.executable, "-m", "mctui", "bot", "beta", "--tone", "440", "--server",
            server.url, "--secret", SECRET, "--ca-file", str(cert),
            "--log-file", str(tmp_path / "bot.log"), stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert bot.stdout is not None
        said = await asyncio.wait_for(bot.stdout.readline(), 30)
        bot.terminate()
        assert await bot.wait() == 0 and b"bot bot-440hz in beta" in said, said
        refused = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mctui", *base,
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env,
        )  # fmt: skip
        _, err = await asyncio.wait_for(refused.communicate(), 60)
        assert refused.returncode == 1 and "--ca-file" in err.decode(), err
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
        await server.stop()


@pytest.mark.slow  # a process of its own (make test runs it)
async def test_mctui_invite_against_a_self_signed_server_gives_an_https_link_and_no_warning(
    tmp_path,
):
    cert, key = self_signed("127.0.0.1", tmp_path)
    server = await start_server(SECRET, "127.0.0.1", 0, ssl_context=tls_context(cert, key))
    try:
        done = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mctui", "invite", "standup", "--server", server.url,
            "--secret", SECRET, "--log-file", str(tmp_path / "log"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(done.communicate(), 60)
        assert done.returncode == 0, err
        assert f"{server.url}/#call=default:standup" in out.decode()
        assert b"no mctui server answers" not in err  # it answers, with its own certificate
    finally:
        await server.stop()


async def test_invite_links_use_the_public_url_the_server_is_told(tmp_path):
    """Behind a reverse proxy (or a NAT) the URL a member connects to is not the guests': the
    server says where guests reach it, and links are made with that."""
    from mctui.server.limits import ServerLimits

    public = "https://voice.example.org"  # only written into the link, never connected to
    told = await start_server(SECRET, "127.0.0.1", 0, limits=ServerLimits(public_url=public))
    plain = await start_server(SECRET, "127.0.0.1", 0)
    clients: list = []  # type: ignore[type-arg]
    try:
        for server, base in ((told, public), (plain, plain.url)):
            member = await connected_client(
                server.url, "alice", ClientOptions(audio_device="null"), {}, clients
            )
            call = member.make_call(CallType.DEFAULT, "standup")
            await call.join()
            invite = await call.invite()
            assert invite.link.startswith(f"{base}/#call=default:standup&token="), invite.link
    finally:
        for client in clients:
            await client.disconnect()
        await told.stop()
        await plain.stop()


@pytest.mark.parametrize(
    ("proxies", "forwarded", "status"),
    [
        ((), {}, 403),  # TLS ends at a proxy nobody said to trust: its page's origin is foreign
        (("127.0.0.0/8",), {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.test"}, 101),
        (("10.0.0.1",), {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.test"}, 403),
    ],
)
async def test_a_trusted_proxy_says_which_origin_the_guest_page_had(proxies, forwarded, status):
    """Behind a TLS-terminating proxy the guest page's origin is https://voice.test while the
    request reaches the server over plain HTTP: only a trusted proxy's X-Forwarded-* count."""
    from mctui.server.limits import ServerLimits

    server = await start_server(
        SECRET, "127.0.0.1", 0, limits=ServerLimits(trusted_proxies=proxies)
    )
    try:
        headers = {"Origin": "https://voice.test", "Host": "voice.test", **forwarded}
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(server.url + "/ws", headers=headers) as ws:
                    got = 101
                    await ws.close()
            except aiohttp.WSServerHandshakeError as exc:
                got = exc.status
        assert got == status
    finally:
        await server.stop()


def test_a_trusted_proxy_that_is_no_address_is_a_config_error():
    from pydantic import ValidationError

    from mctui.server.limits import ServerLimits

    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6"):
        ServerLimits(trusted_proxies=("proxy.example",))
