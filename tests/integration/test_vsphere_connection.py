"""reconciler.vsphere.connection against the project simulator: TLS modes, login errors, re-login, retries."""

from __future__ import annotations

import pytest
from pyVmomi import vim, vmodl

from reconciler.vsphere import ConnectError, Connection, ConnectionSettings, RetryPolicy, settings_from_spec
from reconciler.vsphere.faults import FaultKind

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=5, initial=0.01, maximum=0.05, jitter=0.0, deadline=30)
OTHER_PIN = "00:" * 31 + "01"


def settings(sim, **kw) -> ConnectionSettings:
    base = dict(name="sim", host=sim.host, port=sim.port, username=sim.username, password=sim.password,
                ca_file=sim.ca_file)
    base.update(kw)
    return ConnectionSettings(**base)


def test_verified_tls_with_ca_file(sim):
    with Connection(settings(sim)) as conn:
        assert conn.is_vcenter
        assert conn.about.apiType == "VirtualCenter"
        assert conn.username == sim.username
        assert conn.local_address == "127.0.0.1"
        assert conn.content.sessionManager.currentSession.userName == sim.username


def test_from_vcenter_document(sim):
    spec = {"server": f"{sim.host}:{sim.port}",
            "credentials": {"usernameFile": str(sim.username_file), "passwordFile": str(sim.password_file)},
            "tls": {"verify": True, "caFile": sim.ca_file}}
    with Connection(settings_from_spec("sim", spec, environ={})) as conn:
        assert conn.ping()


def test_thumbprint_pin_right(sim):
    with Connection(settings(sim, ca_file=None, thumbprint=sim.thumbprint)) as conn:
        assert conn.ping()
        # new sockets are pinned too, not only the first one
        conn._stub.DropConnections()
        assert conn.ping()


def test_thumbprint_pin_wrong(sim):
    with pytest.raises(ConnectError) as err:
        Connection(settings(sim, ca_file=None, thumbprint=OTHER_PIN)).connect()
    assert str(err.value).startswith(f"TLS thumbprint mismatch for {sim.host}:{sim.port}: the server presents "
                                     f"{sim.thumbprint}")
    assert err.value.kind is FaultKind.PERMANENT


def test_unknown_ca_refused_with_clear_message(sim):
    with pytest.raises(ConnectError) as err:
        Connection(settings(sim, ca_file=None)).connect()       # system CAs do not know the test CA
    msg = str(err.value)
    assert msg.startswith(f"TLS verification failed for {sim.host}:{sim.port}: ")
    assert "set tls.caFile or tls.thumbprint" in msg and sim.thumbprint in msg
    assert "\n" not in msg and sim.password not in msg


def test_localhost_is_verified_too(sim):
    # pyVmomi alone would skip verification for "localhost" without an explicit context.
    with pytest.raises(ConnectError, match="TLS verification failed"):
        Connection(settings(sim, host="localhost", ca_file=None)).connect()
    with Connection(settings(sim, host="localhost")) as conn:      # the cert has SAN localhost
        assert conn.ping()


@pytest.fixture
def logs():
    """Every structlog entry, whatever level filter an earlier test configured (restored afterwards)."""
    import structlog
    from structlog.testing import capture_logs
    saved = structlog.get_config()
    structlog.reset_defaults()
    try:
        with capture_logs() as captured:
            yield captured
    finally:
        structlog.configure(**saved)


def test_insecure_connects_and_warns(sim, logs):
    with Connection(settings(sim, ca_file=None, verify=False, name="insecure-sim")) as conn:
        assert conn.ping()
    assert any(e["event"].startswith("TLS verification disabled") for e in logs)
    assert not any(sim.password in str(e) for e in logs)


def test_bad_password(sim):
    with pytest.raises(ConnectError) as err:
        Connection(settings(sim, password="wrong-password")).connect()
    assert str(err.value) == (f"login to {sim.host}:{sim.port} as {sim.username} failed: "
                              "invalid username or password")
    assert "wrong-password" not in str(err.value) and err.value.kind is FaultKind.PERMANENT


def test_unreachable_is_transient(sim):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectError) as err:
        Connection(settings(sim, port=port)).connect()
    assert "connection refused" in str(err.value) and err.value.kind is FaultKind.TRANSIENT


def test_relogin_after_session_terminated(fresh_sim):
    conn = Connection(settings(fresh_sim), retry=FAST).connect()
    try:
        mine = conn.content.sessionManager.currentSession.key
        admin = fresh_sim.connect()
        admin.content.sessionManager.TerminateSession([mine])
        # through call(): NotAuthenticated -> re-login -> same call succeeds
        assert conn.call(conn.si.CurrentTime) is not None
        new_key = conn.content.sessionManager.currentSession.key
        assert new_key != mine
        # direct pyVmomi access is covered as well (the stub re-logs in)
        admin.content.sessionManager.TerminateSession([new_key])
        assert conn.content.rootFolder.childEntity
        assert conn.content.sessionManager.currentSession.key not in (mine, new_key)
    finally:
        conn.close()


def test_transient_faults_are_retried(sim_factory):
    sim = sim_factory("-fail", "RetrievePropertiesEx:/2")      # every second call: HostCommunication
    with Connection(settings(sim), retry=FAST) as conn:
        pc = conn.content.propertyCollector
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=conn.content.rootFolder)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Folder, pathSet=["name"])])
        for _ in range(4):
            result = conn.call(pc.RetrievePropertiesEx, [spec], vmodl.query.PropertyCollector.RetrieveOptions())
            assert result.objects[0].propSet[0].val


def test_retries_are_bounded(sim_factory):
    sim = sim_factory("-fail", "CurrentTime:1:SystemError")     # always fails
    with Connection(settings(sim), retry=FAST) as conn:
        calls = []
        def current_time():
            calls.append(1)
            return conn.si.CurrentTime()
        with pytest.raises(vmodl.fault.SystemError):
            conn.call(current_time)
        assert len(calls) == FAST.attempts


def test_permanent_faults_are_not_retried(sim):
    with Connection(settings(sim), retry=FAST) as conn:
        calls = []
        gone = vim.HostSystem("host-does-not-exist", conn.si._stub)
        def bad():
            calls.append(1)
            return gone.name
        with pytest.raises(vmodl.fault.ManagedObjectNotFound):
            conn.call(bad)
        assert len(calls) == 1


def test_survives_a_server_restart(sim_factory):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    first = sim_factory("-l", f"127.0.0.1:{port}")
    conn = Connection(settings(first), retry=FAST).connect()
    try:
        assert conn.ping()
        first.stop()
        # down: transient errors are retried, then raised (classified transient for the caller's own backoff)
        with pytest.raises(Exception) as err:
            conn.call(conn.si.CurrentTime)
        from reconciler.vsphere.faults import classify
        assert classify(err.value) is FaultKind.TRANSIENT
        second = sim_factory("-l", f"127.0.0.1:{port}")
        assert second.port == port
        # up again with no session: the same Connection logs in again by itself
        assert conn.call(conn.si.CurrentTime) is not None
        assert conn.content.sessionManager.currentSession.userName == second.username
        assert conn.ping()
    finally:
        conn.close()


def test_concurrent_calls_and_one_relogin_after_session_loss(fresh_sim):
    from concurrent.futures import ThreadPoolExecutor

    from reconciler.vsphere import inventory
    conn = Connection(settings(fresh_sim), retry=FAST).connect()
    try:
        admin = fresh_sim.connect()
        admin.content.sessionManager.TerminateSession([conn.content.sessionManager.currentSession.key])

        def work(_):
            return len(inventory.fetch(conn, vim.HostSystem, ["runtime.connectionState"]))
        with ThreadPoolExecutor(8) as pool:
            counts = list(pool.map(work, range(32)))
        assert counts == [4] * 32
        assert conn._stub.generation == 1          # one re-login, not one per thread
    finally:
        conn.close()
