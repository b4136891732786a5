import ssl

import pytest

from reconciler.vsphere import tls
from reconciler.vsphere.connection import Connection
from reconciler.vsphere.faults import ConnectError, FaultKind, ThumbprintMismatch
from reconciler.vsphere.settings import ConnectionSettings, SettingsError

OTHER = "00:" * 31 + "01"


def settings(server, **kw):
    base = dict(name="t", host=server.host, port=server.port, username="u", password="p")
    base.update(kw)
    return ConnectionSettings(**base)


def request(server, s):
    ctx = tls.build_context(s)
    seen = []
    cls = tls.connection_class(s.thumbprint, seen.append)
    conn = cls(server.host, server.port, context=ctx, timeout=5)
    try:
        conn.request("GET", "/sdk/vimServiceVersions.xml")
        return conn.getresponse().status, seen
    finally:
        conn.close()


def test_verified_with_ca_file(tls_server):
    status, seen = request(tls_server, settings(tls_server, ca_file=str(tls_server.cert_file)))
    assert status == 200
    assert seen == ["127.0.0.1"]          # local address reported from the real socket


def test_system_cas_refuse_self_signed(tls_server):
    with pytest.raises(ssl.SSLCertVerificationError):
        request(tls_server, settings(tls_server))


def test_pin_right_accepts_self_signed(tls_server):
    status, _ = request(tls_server, settings(tls_server, thumbprint=tls_server.fingerprint.lower()))
    assert status == 200


def test_pin_wrong_refused(tls_server):
    with pytest.raises(ThumbprintMismatch) as err:
        request(tls_server, settings(tls_server, thumbprint=OTHER))
    assert err.value.actual == tls_server.fingerprint


def test_pin_checked_on_every_new_socket_even_after_success(tls_server):
    s = settings(tls_server, thumbprint=tls_server.fingerprint)
    assert request(tls_server, s)[0] == 200
    bad = settings(tls_server, thumbprint=OTHER)
    for _ in range(2):
        with pytest.raises(ThumbprintMismatch):
            request(tls_server, bad)


def test_ca_and_pin_both_checked(tls_server):
    with pytest.raises(ThumbprintMismatch):
        request(tls_server, settings(tls_server, ca_file=str(tls_server.cert_file), thumbprint=OTHER))


def test_insecure_accepts_and_warns_once(tls_server, logs):
    tls._warned_insecure.discard("insecure-test")
    s = settings(tls_server, verify=False, name="insecure-test")
    assert request(tls_server, s)[0] == 200
    request(tls_server, s)
    warnings = [e for e in logs if e["event"].startswith("TLS verification disabled")]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    assert warnings[0]["vcenter"] == "insecure-test" and "p" not in warnings[0].values()


def test_context_modes(tmp_path):
    base = dict(name="m", host="h", username="u", password="p")
    assert tls.build_context(ConnectionSettings(**base)).verify_mode == ssl.CERT_REQUIRED
    assert tls.build_context(ConnectionSettings(**base)).check_hostname
    pinned = tls.build_context(ConnectionSettings(**base, thumbprint=OTHER))
    assert pinned.verify_mode == ssl.CERT_NONE and not pinned.check_hostname
    with pytest.raises(SettingsError, match="tls.caFile .*file not found"):
        tls.build_context(ConnectionSettings(**base, ca_file=str(tmp_path / "missing.pem")))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a cert")
    with pytest.raises(SettingsError, match="not a PEM"):
        tls.build_context(ConnectionSettings(**base, ca_file=str(junk)))


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")  # the stand-in default
def test_vsr_sets_tls_1_2_as_the_minimum_whatever_the_platform_default(tls_server, monkeypatch):
    """Python's default context already starts at TLS 1.2 on this platform, so checking the built context alone
    could not fail: a platform whose OpenSSL configuration allows TLS 1.0 is stood in for, and every mode must
    raise the minimum to exactly TLS 1.2 itself."""
    real = ssl.create_default_context

    def permissive(*args, **kwargs):
        ctx = real(*args, **kwargs)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        return ctx

    monkeypatch.setattr(ssl, "create_default_context", permissive)
    assert real().minimum_version == ssl.TLSVersion.TLSv1_2 and permissive().minimum_version == ssl.TLSVersion.TLSv1
    base = dict(name="m", host="h", username="u", password="p")
    modes = {"system CAs": {}, "pin": {"thumbprint": OTHER}, "insecure": {"verify": False},
             "CA file": {"ca_file": str(tls_server.cert_file)},
             "CA file, insecure": {"ca_file": str(tls_server.cert_file), "verify": False}}
    for mode, extra in modes.items():
        assert tls.build_context(ConnectionSettings(**base, **extra)).minimum_version == ssl.TLSVersion.TLSv1_2, mode


def test_connect_unknown_ca_is_one_clear_line(tls_server):
    with pytest.raises(ConnectError) as err:
        Connection(settings(tls_server)).connect()
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"TLS verification failed for 127.0.0.1:{tls_server.port}: ")
    assert "set tls.caFile or tls.thumbprint" in msg
    assert tls_server.fingerprint in msg          # so the operator can pin it after checking it
    assert err.value.kind is FaultKind.PERMANENT


def test_connect_wrong_pin_message(tls_server):
    with pytest.raises(ConnectError, match="TLS thumbprint mismatch for 127.0.0.1:.*presents " + tls_server.fingerprint):
        Connection(settings(tls_server, thumbprint=OTHER)).connect()


def test_connect_refused_is_transient():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectError) as err:
        Connection(ConnectionSettings(name="x", host="127.0.0.1", port=port, username="u", password="p")).connect()
    assert str(err.value) == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert err.value.kind is FaultKind.TRANSIENT


def test_fingerprint_format():
    assert tls.fingerprint(b"x") == ":".join(
        "2D711642B726B04401627CA9FBAC32F5C8530FB1903CC4DB02258717921A4881"[i:i + 2] for i in range(0, 64, 2))


def test_connect_to_something_that_is_not_vsphere(tls_server):
    with pytest.raises(ConnectError) as err:
        Connection(settings(tls_server, thumbprint=tls_server.fingerprint)).connect()
    assert str(err.value).startswith(f"127.0.0.1:{tls_server.port} did not answer as a vSphere API endpoint")
    assert err.value.kind is FaultKind.PERMANENT


def test_connect_unresolvable_name():
    with pytest.raises(ConnectError) as err:
        Connection(ConnectionSettings(name="x", host="no-such-host.invalid", username="u", password="p")).connect()
    assert str(err.value).startswith("cannot resolve no-such-host.invalid: ")
    assert err.value.kind is FaultKind.PERMANENT
