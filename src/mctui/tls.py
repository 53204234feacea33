"""TLS for ``mctui serve`` and its clients: HTTPS and WSS, so guests elsewhere get a microphone.

Browsers give ``navigator.mediaDevices`` only to secure contexts (HTTPS, or localhost): a guest
who opens ``http://203.0.113.5:8470/`` can hear nothing of theirs sent. ``tls_context`` loads an
operator's certificate and key; ``self_signed`` makes (once) and keeps a certificate for trying
it out, valid for one host name or address, and ``fingerprint`` is what a user compares when the
browser warns about it.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from mctui.errors import MctuiError

#: A self-signed certificate is made anew when it has less than this left.
RENEW_BEFORE = datetime.timedelta(days=30)
VALID_FOR = datetime.timedelta(days=365)


class TlsError(MctuiError):
    """A certificate or key that cannot be used (missing, unreadable, not a pair)."""

    code = "tls"


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for ``cert`` (PEM, the chain after it) and its private ``key``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsError(f"no such file: {exc.filename}") from exc
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"cannot use {cert} with {key}: {exc}") from exc
    return context


def client_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """What a client trusts: the system's store, and ``ca_file`` (a private CA) if given."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except FileNotFoundError as exc:
            raise TlsError(f"no such CA file: {ca_file}") from exc
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(f"cannot read the CA file {ca_file}: {exc}") from exc
    return context


def self_signed(host: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for ``host`` (a name or an address) in ``directory``, made on first use
    and kept (mode 0600 for the key) until it nears its end or names another host."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{host}.crt", directory / f"{host}.key"
    now = datetime.datetime.now(datetime.UTC)
    if cert_path.exists() and key_path.exists():
        kept = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if kept.not_valid_after_utc - now > RENEW_BEFORE:
            return cert_path, key_path
    try:
        subject_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject_name = x509.DNSName(host)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName([subject_name]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_bytes(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def fingerprint(cert: Path) -> str:
    """The certificate's SHA-256 fingerprint, as browsers show it (``AB:CD:...``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(cert.read_bytes()).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)
