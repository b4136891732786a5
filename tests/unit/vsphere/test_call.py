"""Connection.call: what is retried, how often, and re-login on a lost session (no server needed)."""

import types

import pytest
from pyVmomi import vim, vmodl

from reconciler.vsphere.connection import Connection, RetryPolicy, _SessionStub
from reconciler.vsphere.settings import ConnectionSettings

FAST = RetryPolicy(attempts=4, initial=0.001, maximum=0.002, jitter=0.0, deadline=None)


class Flaky:
    def __init__(self, *errors, result="ok"):
        self.errors = list(errors)
        self.calls = 0
        self.result = result

    def __call__(self, *args, **kw):
        self.calls += 1
        self.args = (args, kw)
        if self.errors:
            raise self.errors.pop(0)
        return self.result


@pytest.fixture
def conn():
    c = Connection(ConnectionSettings(name="t", host="h", username="u", password="p"), retry=FAST)
    c._stub = types.SimpleNamespace(generation=0)
    c.relogins = 0

    def relogin(generation):
        c.relogins += 1
    c._relogin_after = relogin
    return c


def test_success_passes_arguments(conn):
    fn = Flaky()
    assert conn.call(fn, 1, key="v") == "ok"
    assert fn.args == ((1,), {"key": "v"}) and fn.calls == 1


def test_transient_faults_are_retried(conn):
    fn = Flaky(vmodl.fault.HostCommunication(), ConnectionResetError(), vim.fault.TaskInProgress())
    assert conn.call(fn) == "ok"
    assert fn.calls == 4


def test_attempts_are_bounded(conn):
    fn = Flaky(*[vmodl.fault.SystemError(reason="x") for _ in range(10)])
    with pytest.raises(vmodl.fault.SystemError):
        conn.call(fn)
    assert fn.calls == FAST.attempts


@pytest.mark.parametrize("fault", [vmodl.fault.InvalidArgument(), vim.fault.InvalidName(),
                                   vim.fault.RestrictedVersion(), vim.fault.NoPermission(), vim.fault.NotFound(),
                                   vim.fault.InvalidState()])
def test_permanent_faults_are_not_retried(conn, fault):
    fn = Flaky(fault)
    with pytest.raises(type(fault)):
        conn.call(fn)
    assert fn.calls == 1 and conn.relogins == 0


def test_not_authenticated_relogs_in_once(conn):
    fn = Flaky(vim.fault.NotAuthenticated())
    assert conn.call(fn) == "ok"
    assert conn.relogins == 1 and fn.calls == 2


def test_not_authenticated_twice_is_raised(conn):
    fn = Flaky(vim.fault.NotAuthenticated(), vim.fault.NotAuthenticated(), vim.fault.NotAuthenticated())
    with pytest.raises(vim.fault.NotAuthenticated):
        conn.call(fn)
    assert conn.relogins == 1 and fn.calls == 2


def test_deadline_stops_retries():
    c = Connection(ConnectionSettings(name="t", host="h", username="u", password="p"),
                   retry=RetryPolicy(attempts=100, initial=0.05, maximum=0.05, jitter=0.0, deadline=0.12))
    c._stub = None
    fn = Flaky(*[TimeoutError() for _ in range(100)])
    with pytest.raises(TimeoutError):
        c.call(fn)
    assert 2 <= fn.calls <= 4


def test_backoff_is_capped_exponential():
    policy = RetryPolicy(attempts=10, initial=1.0, maximum=8.0, jitter=0.0, deadline=None)
    sleeps = []
    retrying = policy.retrying(sleep=sleeps.append)
    fn = Flaky(*[TimeoutError() for _ in range(6)])
    retrying(fn)
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_session_stub_relogs_in_transparently():
    stub = _SessionStub.__new__(_SessionStub)
    calls = []
    stub.generation = 0

    def relogin(generation):
        calls.append(generation)
    stub.relogin = relogin
    answers = [vim.fault.NotAuthenticated(), "value"]

    def base_invoke(self, mo, info, args, outerStub=None):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    info = types.SimpleNamespace(wsdlName="RetrievePropertiesEx")
    original = _SessionStub.__mro__[1].InvokeMethod
    try:
        _SessionStub.__mro__[1].InvokeMethod = base_invoke
        assert stub.InvokeMethod(None, info, ()) == "value"
        assert calls == [0]
        # Login itself is never re-tried through a re-login
        answers[:] = [vim.fault.NotAuthenticated()]
        with pytest.raises(vim.fault.NotAuthenticated):
            stub.InvokeMethod(None, types.SimpleNamespace(wsdlName="Login"), ())
    finally:
        _SessionStub.__mro__[1].InvokeMethod = original


def test_call_without_connection_does_not_leak_password():
    c = Connection(ConnectionSettings(name="t", host="h", username="u", password="hunter2"))
    with pytest.raises(Exception) as err:
        c.si
    assert "hunter2" not in str(err.value) and "not connected" in str(err.value)


def test_a_broken_log_stream_never_fails_a_call(conn, monkeypatch):
    import structlog

    class Broken:
        def __getattr__(self, name):
            def fail(*a, **k):
                raise ValueError("I/O operation on closed file.")
            return fail
    monkeypatch.setattr(structlog, "get_logger", lambda *a, **k: Broken())
    fn = Flaky(vmodl.fault.HostCommunication())
    assert conn.call(fn) == "ok" and fn.calls == 2


def test_retries_are_logged_without_arguments(conn, logs):
    fn = Flaky(vmodl.fault.HostCommunication(msg="lost"))
    conn.call(fn, "secret-argument")
    retry = [e for e in logs if e["event"] == "transient fault; retrying"]
    assert len(retry) == 1
    assert retry[0]["fault"] == "HostCommunication" and retry[0]["attempt"] == 1 and retry[0]["message"] == "lost"
    assert "secret-argument" not in str(logs)
