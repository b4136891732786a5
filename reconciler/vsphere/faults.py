"""Classification of vSphere faults and transport errors: what is worth retrying.

* ``TRANSIENT``: the same call may succeed later (host briefly disconnected, server busy, connection reset,
  HTTP 502/503/504, timeouts). Retried with capped exponential backoff.
* ``AUTH``: the session is gone (``NotAuthenticated``). The connection logs in again once and retries.
* ``PERMANENT``: the request itself is wrong or not allowed (``InvalidArgument``, ``InvalidName``,
  ``RestrictedVersion``, ``NoPermission``, ``NotFound``, ``InvalidState``, TLS verification failures, ...).
  Never retried: repeating it cannot help and may hide a real problem.

Unknown faults are permanent: retrying an unknown failure of a write is riskier than reporting it.
"""

from __future__ import annotations

import enum
import http.client
import socket
import ssl

from pyVmomi import vim, vmodl


class FaultKind(str, enum.Enum):
    TRANSIENT = "transient"
    AUTH = "auth"
    PERMANENT = "permanent"


class VsphereError(Exception):
    """Base of the errors raised by ``reconciler.vsphere`` itself."""


class ConnectError(VsphereError):
    """Could not connect or log in. ``str()`` is one line meant for the operator; never contains a secret."""

    def __init__(self, message: str, *, kind: FaultKind = FaultKind.PERMANENT):
        super().__init__(message)
        self.kind = kind


class ThumbprintMismatch(ssl.SSLError):
    """The server's certificate does not match the pinned SHA-256 thumbprint."""

    def __init__(self, expected: str, actual: str):
        super().__init__(f"certificate SHA-256 thumbprint {actual} does not match the pinned {expected}")
        self.expected = expected
        self.actual = actual


# Order matters: NotAuthenticated is a subclass of NoPermission; HostNotConnected of HostCommunication.
_AUTH_FAULTS: tuple[type, ...] = (vim.fault.NotAuthenticated,)
_TRANSIENT_FAULTS: tuple[type, ...] = (
    vmodl.fault.HostCommunication,      # includes HostNotConnected, HostNotReachable
    vmodl.fault.SystemError,
    vim.fault.TaskInProgress,           # the object is busy with another task; try again later
    vim.fault.Timedout,
    vim.fault.ConcurrentAccess,
    vim.fault.HostConnectFault,         # pyVmomi wraps transport errors during connect in this
)
_PERMANENT_FAULTS: tuple[type, ...] = (
    vmodl.fault.InvalidArgument,
    vim.fault.InvalidName,
    vim.fault.RestrictedVersion,
    vim.fault.NoPermission,
    vim.fault.InvalidLogin,
    vim.fault.NotFound,
    vim.fault.InvalidState,
    vmodl.fault.ManagedObjectNotFound,
    vmodl.fault.NotSupported,
    vmodl.fault.InvalidRequest,         # includes MethodNotFound
    vmodl.fault.SecurityError,
    vmodl.fault.RequestCanceled,
)
_TRANSIENT_HTTP_STATUS = ("502", "503", "504")


def classify(exc: BaseException) -> FaultKind:
    """Say whether ``exc`` (a vSphere fault or a transport error) is transient, an auth loss, or permanent."""
    if isinstance(exc, ConnectError):
        return exc.kind
    if isinstance(exc, _AUTH_FAULTS):
        return FaultKind.AUTH
    if isinstance(exc, _TRANSIENT_FAULTS):
        return FaultKind.TRANSIENT
    if isinstance(exc, _PERMANENT_FAULTS):
        return FaultKind.PERMANENT
    if isinstance(exc, vmodl.MethodFault):
        return FaultKind.PERMANENT
    # TLS problems are configuration problems, never transient. SSLError is an OSError: test it first.
    if isinstance(exc, (ssl.SSLCertVerificationError, ThumbprintMismatch)):
        return FaultKind.PERMANENT
    if isinstance(exc, ssl.SSLError):
        # A handshake cut short by the peer is a transport hiccup; other SSL errors are configuration.
        return FaultKind.TRANSIENT if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) else FaultKind.PERMANENT
    if isinstance(exc, socket.gaierror):
        return FaultKind.PERMANENT      # the name does not resolve: a typo, not a hiccup
    if isinstance(exc, http.client.HTTPException):
        text = str(exc)
        if text[:3].isdigit():          # pyVmomi raises HTTPException("503 Service Unavailable")
            return FaultKind.TRANSIENT if text[:3] in _TRANSIENT_HTTP_STATUS else FaultKind.PERMANENT
        return FaultKind.TRANSIENT      # RemoteDisconnected, IncompleteRead, BadStatusLine ...
    if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
        return FaultKind.TRANSIENT
    if isinstance(exc, OSError):
        return FaultKind.TRANSIENT      # EHOSTUNREACH, ENETUNREACH, broken pipe ...
    return FaultKind.PERMANENT


def is_transient(exc: BaseException) -> bool:
    return classify(exc) is FaultKind.TRANSIENT


def fault_name(exc: BaseException) -> str:
    """Short type name for logs and events: ``vim.fault.InvalidName`` -> ``InvalidName``."""
    name = getattr(type(exc), "_wsdlName", None) or type(exc).__name__
    return name.rsplit(".", 1)[-1]


def fault_message(exc: BaseException) -> str:
    """The human part of a fault, one line, without the type name (combine with :func:`fault_name`, or use
    :func:`describe`): the server's ``msg``, else a description built from the fault's fields, else the name."""
    if isinstance(exc, vmodl.MethodFault):
        msg = getattr(exc, "msg", None)
        if not msg:
            for item in getattr(exc, "faultMessage", None) or ():
                msg = getattr(item, "message", None) or getattr(item, "key", None)
                if msg:
                    break
        return _one_line(msg) if msg else _describe_fields(exc)
    lines = str(exc).strip().splitlines()
    return lines[0] if lines and lines[0] else fault_name(exc)


def describe(exc: BaseException) -> str:
    """``Name: message`` (or just ``Name`` when there is nothing more to say)."""
    name, message = fault_name(exc), fault_message(exc)
    return name if message == name else f"{name}: {message}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _describe_fields(exc: vmodl.MethodFault) -> str:
    if isinstance(exc, vim.fault.InvalidName) and getattr(exc, "name", None):
        return f"invalid name {exc.name!r}"
    if isinstance(exc, vmodl.fault.InvalidArgument) and getattr(exc, "invalidProperty", None):
        return f"invalid argument {exc.invalidProperty!r}"
    if isinstance(exc, vim.fault.NotAuthenticated):
        return "the session is not authenticated"
    if isinstance(exc, vim.fault.NoPermission) and getattr(exc, "privilegeId", None):
        return f"permission {exc.privilegeId} is missing"
    if isinstance(exc, vim.fault.RestrictedVersion):
        return "not allowed by this edition or license (e.g. free ESXi: the API is read-only)"
    if isinstance(exc, vmodl.fault.ManagedObjectNotFound) and getattr(exc, "obj", None) is not None:
        return f"object {exc.obj._moId} does not exist"
    if isinstance(exc, vmodl.fault.SystemError) and getattr(exc, "reason", None):
        return _one_line(exc.reason)
    return fault_name(exc)
