"""``mctui serve``: the coordinator and its SFU, over HTTP or HTTPS, until Ctrl-C or SIGTERM.

Its own module (registered on the command line's app in ``cli``): the TLS options and the
self-signed certificate for trying it out live here with it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mctui.cli_common import _error, _fail, _ice_servers, _run, _secret, _setup
from mctui.cli_options import (
    GraceOpt,
    IceOptions,
    JanusKeyOpt,
    JanusOpt,
    LogOptions,
    SecretOptions,
    SfuKind,
    with_option_groups,
)

if TYPE_CHECKING:
    import ssl

    from mctui.config import Config


@with_option_groups
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind signalling and media (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free).")] = 8470,
    secrets: SecretOptions = SecretOptions(),
    ring_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds before an unanswered ring is missed.")
    ] = 30.0,
    sfu: Annotated[SfuKind, typer.Option(help="Media server.")] = SfuKind.EMBEDDED,
    announce: Annotated[
        str | None,
        typer.Option(help="Address the SFU advertises in its candidates (behind a 1:1 NAT)."),
    ] = None,
    media_host: Annotated[
        str | None,
        typer.Option(
            help="Address the SFU binds media on, when not --host's (a reverse proxy in front)."
        ),
    ] = None,
    ice: IceOptions = IceOptions(),
    grace: GraceOpt = None,
    janus: JanusOpt = None,
    janus_admin_key: JanusKeyOpt = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS/WSS with this certificate (PEM, chain).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's private key.")] = None,
    tls_self_signed: Annotated[
        str | None,
        typer.Option(
            help="Serve HTTPS with a self-signed certificate for this host name or address "
            "(made once, kept in the user data directory; for trying it out)."
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(help="Where guests reach this server (invite links): https://HOST[:PORT]."),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="A reverse proxy (address or network) whose X-Forwarded-Proto/-Host to trust "
            "(TLS ending at the proxy). Repeatable."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Serve Prometheus /metrics on this port (off: none)."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address of the /metrics listener (loopback by default).")
    ] = "127.0.0.1",
    logs: LogOptions = LogOptions(),
) -> None:
    """Run the coordinator and its SFU (embedded, or Janus instances) until Ctrl-C."""
    from mctui.names import websocket_url
    from mctui.network import NetworkPolicy
    from mctui.server.limits import proxy_networks
    from mctui.server.serve import ListenError, serve_until_stopped
    from mctui.server.sfu_factory import make_sfu

    settings = _setup(logs, stderr=True)
    if sfu is SfuKind.JANUS and not janus:
        _fail("--sfu janus needs at least one --janus ws://HOST:8188")
    for url in janus or []:
        if not url.startswith(("ws://", "wss://")):
            _fail(f"--janus {url!r}: expected ws://HOST:PORT or wss://HOST:PORT")
    announce = announce or settings.network.announce
    media_host = media_host or settings.network.media_host
    for address in (host, announce, media_host):
        if address not in (None, "localhost") and not _is_ip(address):
            _fail(f"{address!r} is not an IP address")
    tls = _tls(settings, tls_cert, tls_key, tls_self_signed)
    ice_servers = _ice_servers(settings, ice)
    network = NetworkPolicy.for_server(media_host or host, announce, ice_servers)
    key = _secret(secrets)
    limits = settings.server
    if grace is not None:
        limits = limits.model_copy(update={"reconnect_grace_s": grace})
    if trusted_proxy:
        try:  # model_copy does not validate: the model's own check, called here
            limits = limits.model_copy(update={"trusted_proxies": proxy_networks(trusted_proxy)})
        except ValueError as exc:
            _fail(f"--trusted-proxy: {exc}")
    if public_url is not None:
        try:
            websocket_url(public_url)  # the check every server URL gets: http:// or https://
        except ValueError as exc:
            _fail(f"--public-url {public_url!r}: {exc}")
        limits = limits.model_copy(update={"public_url": public_url.rstrip("/")})
    backend = make_sfu(sfu.value, network, janus, janus_admin_key)
    try:
        _run(
            serve_until_stopped(
                key,
                host,
                port,
                ring_timeout,
                backend,
                limits,
                sfu.value,
                ice_servers,
                ssl_context=tls,
                metrics=(metrics_host, metrics_port) if metrics_port is not None else None,
            )
        )
    except ListenError as exc:
        _error(str(exc))


def _tls(
    settings: Config, cert: Path | None, key: Path | None, self_signed_host: str | None
) -> ssl.SSLContext | None:
    """The server's TLS context from the options (else ``[server] tls_cert/tls_key``), or None
    for plain HTTP; a self-signed certificate says its fingerprint, to compare in the browser."""
    from platformdirs import user_data_path

    from mctui.tls import TlsError, fingerprint, self_signed, tls_context

    cert = cert or (Path(settings.server.tls_cert) if settings.server.tls_cert else None)
    key = key or (Path(settings.server.tls_key) if settings.server.tls_key else None)
    if self_signed_host is not None and (cert or key):
        _fail("--tls-self-signed makes its own certificate: give it, or --tls-cert/--tls-key")
    if (cert is None) != (key is None):
        _fail("--tls-cert and --tls-key go together")
    try:
        if self_signed_host is not None:
            cert, key = self_signed(self_signed_host, user_data_path("mctui") / "tls")
            print(f"self-signed certificate {cert}, SHA-256 {fingerprint(cert)}", flush=True)
        if cert is None or key is None:
            return None
        return tls_context(cert, key)
    except TlsError as exc:
        _fail(str(exc))


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
