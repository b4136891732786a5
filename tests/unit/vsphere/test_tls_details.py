"""The details of TLS set-up that the connection tests do not pin down: every caFile error message, the modes a
CA file combines with, the pin's expected value in the mismatch, the one insecure warning's fields, verify-error
wording and the unverified server fingerprint (issue 21: mutants that survived in vsphere/tls.py)."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from reconciler.vsphere import tls
from reconciler.vsphere.faults import ThumbprintMismatch
from reconciler.vsphere.settings import ConnectionSettings, SettingsError

OTHER = "00:" * 31 + "01"
BASE = dict(name="m", host="h", username="u", password="p")


def context(**extra) -> ssl.SSLContext:
    return tls.build_context(ConnectionSettings(**BASE, **extra))


def test_ca_file_errors_name_the_file_and_the_reason(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a cert")
    with pytest.raises(SettingsError) as err:
        context(ca_file=str(junk))
    assert str(err.value) == f"tls.caFile {junk}: not a PEM certificate bundle (NO_CERTIFICATE_OR_CRL_FOUND)"
    with pytest.raises(SettingsError) as err:
        context(ca_file=str(tmp_path))  # a directory: the OS error's own words
    assert str(err.value) == f"tls.caFile {tmp_path}: cannot read (Is a directory)"


def test_ca_file_error_without_an_os_reason_says_error(tmp_path, monkeypatch):
    def fails(*args, **kwargs):
        raise OSError(5, None)

    monkeypatch.setattr(ssl, "create_default_context", fails)
    with pytest.raises(SettingsError) as err:
        context(ca_file=str(tmp_path / "x.pem"))
    assert str(err.value) == f"tls.caFile {tmp_path / 'x.pem'}: cannot read (error)"


def _ssl_error(reason: str | None) -> ssl.SSLError:
    exc = ssl.SSLError(9, "[X509] PEM lib (_ssl.c:4000)")
    if reason is not None:
        exc.reason = reason
    return exc


@pytest.mark.parametrize("raised", [PermissionError(13, "Permission denied"), ValueError("embedded null byte"),
                                    _ssl_error(None), _ssl_error("bad base64 in /etc/vsr/ca.pem")])
def test_ca_file_permission_and_undecodable_errors(tmp_path, monkeypatch, raised):
    """Root reads any file, and OpenSSL's text may quote the file: each branch stood in for."""
    def fails(*args, **kwargs):
        raise raised

    monkeypatch.setattr(ssl, "create_default_context", fails)
    with pytest.raises(SettingsError) as err:
        context(ca_file="/etc/vsr/ca.pem")
    expected = {PermissionError: "permission denied", ValueError: "not a PEM certificate bundle",
                ssl.SSLError: "not a PEM certificate bundle"}[type(raised)]
    assert str(err.value) == f"tls.caFile /etc/vsr/ca.pem: {expected}"  # no lower-case OpenSSL text quoted


def test_a_ca_file_keeps_verification_unless_verify_is_false_without_a_pin(tls_server):
    ca = str(tls_server.cert_file)
    for extra in ({}, {"thumbprint": OTHER}, {"verify": False, "thumbprint": OTHER}):
        ctx = context(ca_file=ca, **extra)
        assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_REQUIRED, True), extra
    insecure = context(ca_file=ca, verify=False)
    assert (insecure.verify_mode, insecure.check_hostname) == (ssl.CERT_NONE, False)


def test_the_mismatch_names_the_pinned_and_the_presented_thumbprints(tls_server):
    cls = tls.connection_class(OTHER)
    conn = cls(tls_server.host, tls_server.port, context=context(thumbprint=OTHER), timeout=5)
    with pytest.raises(ThumbprintMismatch) as err:
        conn.connect()
    assert (err.value.expected, err.value.actual) == (OTHER, tls_server.fingerprint)


def test_the_insecure_warning_names_the_server_and_the_way_out(logs):
    tls._warned_insecure.discard("lab")
    settings = ConnectionSettings(name="lab", host="vc.lab", port=8443, username="u", password="p", verify=False)
    tls.build_context(settings)
    tls.build_context(settings)
    (warning,) = [e for e in logs if e["event"].startswith("TLS verification")]
    assert warning["event"] == "TLS verification disabled: the server's identity is not checked"
    assert (warning["vcenter"], warning["server"]) == ("lab", settings.address)
    assert warning["hint"] == "set tls.caFile or tls.thumbprint instead of verify: false / --insecure"


def verify_error(code: int | None, message: str | None = None, reason: str | None = None) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code, exc.verify_message, exc.reason = code, message, reason
    return exc


def test_verify_errors_in_plain_words():
    assert tls.describe_verify_error(verify_error(20)) == "certificate signed by unknown authority"
    assert tls.describe_verify_error(verify_error(62)) == "certificate does not match the host name"
    assert tls.describe_verify_error(verify_error(10)) == "certificate has expired"
    assert tls.describe_verify_error(verify_error(99, "unusual problem.")) == "unusual problem"
    assert tls.describe_verify_error(verify_error(99, None, "SOME_REASON.")) == "SOME_REASON"
    assert tls.describe_verify_error(verify_error(None, None, None)) == "certificate verify failed"
    assert tls.describe_verify_error(verify_error(99, ".leading dot kept")) == ".leading dot kept"
    assert tls.describe_verify_error(verify_error(99, "bad ASN1 BOX.")) == "bad ASN1 BOX"  # only dots stripped
    bare = ssl.SSLCertVerificationError(1, "certificate verify failed")  # none of OpenSSL's attributes set
    assert tls.describe_verify_error(bare) == "certificate verify failed"


def test_server_fingerprint_is_the_presented_certificate_or_none(tls_server):
    assert tls.server_fingerprint(tls_server.host, tls_server.port) == tls_server.fingerprint
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert tls.server_fingerprint("127.0.0.1", port) is None


def test_server_fingerprint_gives_up_after_its_timeout():
    """A server that accepts and never answers the handshake: None after the timeout, not a hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        result: list[str | None] = []
        started = time.monotonic()
        thread = threading.Thread(target=lambda: result.append(
            tls.server_fingerprint("127.0.0.1", silent.getsockname()[1], timeout=0.3)), daemon=True)
        thread.start()
        thread.join(5)
        assert result == [None] and time.monotonic() - started < 3


def test_client_protocols_follow_what_this_openssl_and_its_configuration_allow(monkeypatch):
    """TLS 1.2 always; TLS 1.3 when OpenSSL has it and the default context's maximum reaches it (a system policy
    capping at 1.2 is stood in for)."""
    assert tls.client_protocols() == ({"TLSv1.2", "TLSv1.3"} if ssl.HAS_TLSv1_3 else {"TLSv1.2"})
    real = ssl.create_default_context

    def capped(*args, **kwargs):
        ctx = real(*args, **kwargs)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    monkeypatch.setattr(ssl, "create_default_context", capped)
    assert tls.client_protocols() == {"TLSv1.2"}

    def exactly_13(*args, **kwargs):
        ctx = real(*args, **kwargs)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        return ctx

    monkeypatch.setattr(ssl, "create_default_context", exactly_13)
    assert tls.client_protocols() == ({"TLSv1.2", "TLSv1.3"} if ssl.HAS_TLSv1_3 else {"TLSv1.2"})
    monkeypatch.setattr(ssl, "HAS_TLSv1_3", False)
    assert tls.client_protocols() == {"TLSv1.2"}
