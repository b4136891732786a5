import http.client
import socket
import ssl

import pytest
from pyVmomi import vim, vmodl

from reconciler.vsphere.faults import (ConnectError, FaultKind, ThumbprintMismatch, classify, describe,
                                       fault_message, fault_name, is_transient)

T, P, A = FaultKind.TRANSIENT, FaultKind.PERMANENT, FaultKind.AUTH


@pytest.mark.parametrize("exc, kind", [
    (vmodl.fault.HostCommunication(), T),
    (vmodl.fault.HostNotConnected(), T),
    (vmodl.fault.HostNotReachable(), T),
    (vmodl.fault.SystemError(reason="boom"), T),
    (vim.fault.TaskInProgress(), T),
    (vim.fault.Timedout(), T),
    (vim.fault.ConcurrentAccess(), T),
    (ConnectionResetError(104, "reset"), T),
    (ConnectionRefusedError(111, "refused"), T),
    (TimeoutError(), T),
    (socket.timeout(), T),
    (http.client.RemoteDisconnected("closed"), T),
    (http.client.HTTPException("503 Service Unavailable"), T),
    (http.client.HTTPException("502 Bad Gateway"), T),
    (ssl.SSLEOFError(8, "EOF"), T),
    (vim.fault.NotAuthenticated(), A),
    (vmodl.fault.InvalidArgument(invalidProperty="x"), P),
    (vim.fault.InvalidName(name="Foo.Bar"), P),
    (vim.fault.RestrictedVersion(), P),
    (vim.fault.NoPermission(), P),
    (vim.fault.InvalidLogin(), P),
    (vim.fault.NotFound(), P),
    (vim.fault.InvalidState(), P),
    (vmodl.fault.ManagedObjectNotFound(), P),
    (vmodl.fault.NotSupported(), P),
    (vmodl.fault.MethodNotFound(), P),
    (vim.fault.AlreadyExists(), P),            # unknown vim fault: permanent
    (http.client.HTTPException("404 Not Found"), P),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), P),
    (ThumbprintMismatch("AA", "BB"), P),
    (socket.gaierror(-2, "Name or service not known"), P),
    (ValueError("bug"), P),
    (ConnectError("down", kind=T), T),
    (ConnectError("bad password"), P),
])
def test_classify(exc, kind):
    assert classify(exc) is kind
    assert is_transient(exc) is (kind is T)


def test_not_authenticated_is_auth_although_it_subclasses_no_permission():
    assert isinstance(vim.fault.NotAuthenticated(), vim.fault.NoPermission)
    assert classify(vim.fault.NotAuthenticated()) is A


def test_fault_message_and_name():
    assert fault_name(vim.fault.InvalidName(name="Foo.Bar")) == "InvalidName"
    assert fault_message(vim.fault.InvalidName(name="Foo.Bar")) == "invalid name 'Foo.Bar'"
    assert describe(vim.fault.InvalidName(name="Foo.Bar")) == "InvalidName: invalid name 'Foo.Bar'"
    assert fault_message(vmodl.fault.SystemError(msg="disk\nfull", reason="x")) == "disk full"
    assert fault_message(vmodl.fault.SystemError(reason="injected")) == "injected"
    assert "free ESXi" in fault_message(vim.fault.RestrictedVersion())
    assert fault_message(vim.fault.NoPermission(privilegeId="Host.Config.Settings")) == \
        "permission Host.Config.Settings is missing"
    assert fault_message(vmodl.fault.ManagedObjectNotFound(obj=vim.HostSystem("host-9"))) == \
        "object host-9 does not exist"
    assert describe(vim.fault.AlreadyExists()) == "AlreadyExists"
    assert fault_message(ConnectionResetError(104, "Connection reset by peer")) == "[Errno 104] Connection reset by peer"
    assert describe(TimeoutError()) == "TimeoutError"
