"""TLS for vSphere connections: an explicit SSLContext always, SHA-256 pinning checked on every new socket.

pyVmomi skips certificate verification for ``localhost`` when it is given no context, and its own thumbprint
support only checks the pin on the first connection after a failed verification. We therefore build the
context ourselves and hand pyVmomi an ``HTTPSConnection`` subclass that checks the pin after each handshake.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
from collections.abc import Callable

from reconciler.vsphere._log import log
from reconciler.vsphere.faults import ThumbprintMismatch
from reconciler.vsphere.settings import ConnectionSettings, SettingsError

_warned_insecure: set[str] = set()


def fingerprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate as ``AA:BB:...``."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def build_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """The SSLContext for ``settings``.

    * ``ca_file``: chain and host name verified against that bundle (also with a pin);
    * ``thumbprint`` without ``ca_file``: chain not checked, the pin is (see :func:`connection_class`);
    * ``verify`` true otherwise: the system CAs and the host name;
    * ``verify`` false and no pin: nothing checked, and a warning is logged once per connection name.
    """
    if settings.ca_file:
        try:
            ctx = ssl.create_default_context(cafile=settings.ca_file)
        except FileNotFoundError:
            raise SettingsError(f"tls.caFile {settings.ca_file}: file not found") from None
        except PermissionError:
            raise SettingsError(f"tls.caFile {settings.ca_file}: permission denied") from None
        except ssl.SSLError as exc:  # the reason code only: OpenSSL's text may quote the file
            code = getattr(exc, "reason", None)
            reason = f" ({code})" if isinstance(code, str) and code.isupper() else ""
            raise SettingsError(f"tls.caFile {settings.ca_file}: not a PEM certificate bundle{reason}") from None
        except OSError as exc:
            raise SettingsError(f"tls.caFile {settings.ca_file}: cannot read ({exc.strerror or 'error'})") from None
        except (UnicodeDecodeError, ValueError):
            raise SettingsError(f"tls.caFile {settings.ca_file}: not a PEM certificate bundle") from None
        if not settings.verify and not settings.thumbprint:
            _warn_insecure(settings)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    elif settings.thumbprint:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif settings.verify:
        ctx = ssl.create_default_context()
    else:
        _warn_insecure(settings)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _warn_insecure(settings: ConnectionSettings) -> None:
    if settings.name not in _warned_insecure:
        _warned_insecure.add(settings.name)
        log.warning("TLS verification disabled: the server's identity is not checked",
                    vcenter=settings.name, server=settings.address,
                    hint="set tls.caFile or tls.thumbprint instead of verify: false / --insecure")


def connection_class(pin: str | None, on_connect: Callable[[str], None] | None = None
                     ) -> type[http.client.HTTPSConnection]:
    """An ``HTTPSConnection`` subclass that verifies the peer certificate's SHA-256 against ``pin`` (if any)
    after every handshake and reports the socket's local address to ``on_connect``."""
    expected = bytes.fromhex(pin.replace(":", "")) if pin else None

    class VsrHTTPSConnection(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            if expected is not None:
                der = self.sock.getpeercert(binary_form=True) or b""
                if not hmac.compare_digest(hashlib.sha256(der).digest(), expected):
                    self.close()
                    raise ThumbprintMismatch(pin or "", fingerprint(der))
            if on_connect is not None:
                try:
                    on_connect(self.sock.getsockname()[0])
                except OSError:
                    pass

    return VsrHTTPSConnection


def server_fingerprint(host: str, port: int, timeout: float = 5.0) -> str | None:
    """The SHA-256 fingerprint of the certificate the server presents (unverified; for error messages)."""
    try:
        pem = ssl.get_server_certificate((host, port), timeout=timeout)
        return fingerprint(ssl.PEM_cert_to_DER_cert(pem))
    except (OSError, ValueError):
        return None


_VERIFY_REASONS = {
    20: "certificate signed by unknown authority",        # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    19: "self-signed certificate in chain not trusted",   # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    18: "self-signed certificate not trusted",            # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    21: "certificate signed by unknown authority",        # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    10: "certificate has expired",
    9: "certificate is not yet valid",
    62: "certificate does not match the host name",       # X509_V_ERR_HOSTNAME_MISMATCH
    64: "certificate does not match the IP address",      # X509_V_ERR_IP_ADDRESS_MISMATCH
}


def describe_verify_error(exc: ssl.SSLCertVerificationError) -> str:
    code = getattr(exc, "verify_code", None)
    if code in _VERIFY_REASONS:
        return _VERIFY_REASONS[code]
    return (getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)).rstrip(".")


def client_protocols() -> frozenset[str]:
    """The TLS versions vsr's client contexts can negotiate (TLS 1.2 upwards, as far as this OpenSSL goes)."""
    ctx = ssl.create_default_context()
    top = ctx.maximum_version
    versions = {"TLSv1.2"}
    if ssl.HAS_TLSv1_3 and (top is ssl.TLSVersion.MAXIMUM_SUPPORTED or top >= ssl.TLSVersion.TLSv1_3):
        versions.add("TLSv1.3")
    return frozenset(versions)
