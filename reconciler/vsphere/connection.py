"""A logged-in vSphere API session with TLS done right, transparent re-login and retries of transient faults.

    conn = Connection(settings_from_spec("lab", doc.spec)).connect()
    hosts = inventory.fetch(conn, vim.HostSystem, ["name", "config.service"])
    conn.call(host.configManager.serviceSystem.StopService, id="TSM-SSH")
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity
from pyVmomi import vim, vmodl
from pyVmomi.SoapAdapter import SoapStubAdapter
from pyVmomi.VmomiSupport import GetServiceVersions, versionIdMap

from reconciler.vsphere import tls
from reconciler.vsphere._log import log
from reconciler.vsphere.faults import (
    ConnectError,
    FaultKind,
    ThumbprintMismatch,
    classify,
    describe,
    fault_message,
    fault_name,
    is_transient,
)
from reconciler.vsphere.settings import (
    ConnectionSettings,
    SettingsError,
    normalize_thumbprint,
    parse_server,
    settings_from_cli,
    settings_from_spec,
)

__all__ = ["Connection", "ConnectionSettings", "ConnectError", "RetryPolicy", "SettingsError",
           "normalize_thumbprint", "parse_server", "settings_from_cli", "settings_from_spec"]

T = TypeVar("T")
SDK_PATH = "/sdk"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient faults: at most ``attempts`` tries, exponential backoff from ``initial`` seconds
    doubling up to ``maximum``, plus up to ``jitter`` seconds of random jitter, and never past ``deadline``
    seconds after the first try (``None``: no deadline)."""

    attempts: int = 5
    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5
    deadline: float | None = 300.0

    def retrying(self, before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> tenacity.Retrying:
        stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(max(1, self.attempts))
        if self.deadline is not None:
            stop = stop | tenacity.stop_after_delay(self.deadline)
        return tenacity.Retrying(
            stop=stop,
            wait=tenacity.wait_exponential(multiplier=self.initial, max=self.maximum)
            + tenacity.wait_random(0, self.jitter),
            retry=tenacity.retry_if_exception(is_transient),
            reraise=True, before_sleep=before_sleep, sleep=sleep,
        )


class _SessionStub(SoapStubAdapter):
    """SOAP stub that logs in again once when the server says the session is gone, then repeats the call.

    Every managed-object method and property access goes through ``InvokeMethod``, so this covers code that
    uses pyVmomi objects directly as well as :meth:`Connection.call`.
    """

    relogin: Callable[[int], None] | None = None
    generation: int = 0

    def InvokeMethod(self, mo: Any, info: Any, args: Any, outerStub: Any = None) -> Any:  # noqa: N802 (pyVmomi's name)
        generation = self.generation
        try:
            return super().InvokeMethod(mo, info, args, outerStub)  # type: ignore[no-untyped-call]  # pyVmomi's
        except vim.fault.NotAuthenticated:
            if self.relogin is None or info.wsdlName in ("Login", "Logout", "LoginByToken"):
                raise
            self.relogin(generation)
            return super().InvokeMethod(mo, info, args, outerStub)  # type: ignore[no-untyped-call]  # pyVmomi's


class Connection:
    """One API session to a vCenter or ESXi host. Thread-safe for concurrent calls (pooled HTTP connections)."""

    def __init__(self, settings: ConnectionSettings, *, retry: RetryPolicy | None = None, pool_size: int = 16,
                 sleep: Callable[[float], None] = time.sleep):
        """``sleep`` waits between retries (the daemon passes one that beats its heartbeat and aborts on stop)."""
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.pool_size = pool_size
        self._sleep = sleep
        self._si: vim.ServiceInstance | None = None
        self._content: vim.ServiceInstanceContent | None = None
        self._stub: _SessionStub | None = None
        self._local_address: str | None = None
        self._lock = threading.Lock()
        self._log = log.bind(vcenter=settings.name, server=settings.address)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def connect(self) -> "Connection":
        """Open the session. Raises :class:`ConnectError` with a one-line message; ``.kind`` says whether trying
        again later may help (unreachable) or not (bad password, TLS verification failure)."""
        s = self.settings
        if self._si is not None:
            self.close()
        try:
            ctx = tls.build_context(s)
        except SettingsError as exc:
            raise ConnectError(f"{s.name}: {exc}") from None
        conn_class = tls.connection_class(s.thumbprint, self._remember_local_address)
        try:
            version = self._negotiate_version(ctx, conn_class)
            stub = _SessionStub(host=s.host, port=s.port, version=version, path=SDK_PATH, sslContext=ctx,
                                httpConnectionTimeout=s.timeout, poolSize=self.pool_size)
            stub.scheme = conn_class  # type: ignore[assignment]  # pyVmomi infers its first value, a Unix-socket class
            si = vim.ServiceInstance("ServiceInstance", stub)
            content = si.RetrieveContent()
            if content.sessionManager is None:
                raise ConnectError(f"{s.address} is not a vSphere API endpoint (no session manager)")
            content.sessionManager.Login(s.username, s.password.get_secret_value(), None)
        except ConnectError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line
            raise self._connect_error(exc) from None
        stub.relogin = self._relogin_after
        self._stub, self._si, self._content = stub, si, content
        self._log.info("connected", api=content.about.apiType, version=content.about.apiVersion,
                       user=s.user_label, local_address=self._local_address)
        return self

    def close(self) -> None:
        """Log out (best effort) and drop pooled sockets."""
        stub, content = self._stub, self._content
        self._stub = self._si = self._content = None
        if stub is None:
            return
        stub.relogin = None
        try:
            _session_manager(content).Logout()
        except Exception:  # noqa: BLE001 - the session may already be gone
            pass
        stub.DropConnections()

    def __enter__(self) -> "Connection":
        return self if self._si is not None else self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def connected(self) -> bool:
        return self._si is not None

    @property
    def si(self) -> vim.ServiceInstance:
        if self._si is None:
            raise ConnectError(f"{self.settings.name}: not connected")
        return self._si

    @property
    def content(self) -> vim.ServiceInstanceContent:
        if self._content is None:
            raise ConnectError(f"{self.settings.name}: not connected")
        return self._content

    @property
    def about(self) -> vim.AboutInfo:
        return self.content.about

    @property
    def is_vcenter(self) -> bool:
        return self.about.apiType == "VirtualCenter"

    @property
    def username(self) -> str:
        return self.settings.username

    @property
    def local_address(self) -> str | None:
        """Our own source IP address on the API socket (what the server and host firewalls see)."""
        if self._local_address is None:
            self._local_address = self._route_address()
        return self._local_address

    # -- calls -----------------------------------------------------------------------------------------------
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one vSphere call. Transient faults are retried per :attr:`retry`; a lost session is re-established
        once; permanent faults are raised at once, unchanged."""
        return self._call(fn, args, kwargs, retry=True)

    def call_once(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """As :meth:`call` without the retries of transient faults (the session is still re-established once)."""
        return self._call(fn, args, kwargs, retry=False)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], *, retry: bool) -> T:
        name = _callable_name(fn)
        relogged = False

        def attempt() -> T:
            nonlocal relogged
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if classify(exc) is FaultKind.AUTH and not relogged and self._stub is not None:
                    relogged = True
                    self._log.info("session lost; logging in again", method=name)
                    self._relogin_after(self._stub.generation)
                    return fn(*args, **kwargs)
                raise

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self._log.warning("transient fault; retrying", method=name, attempt=state.attempt_number,
                              fault=fault_name(exc) if exc else None,
                              message=fault_message(exc) if exc else None,
                              wait=round(state.upcoming_sleep, 3))

        try:
            return self.retry.retrying(before_sleep, sleep=self._sleep)(attempt) if retry else attempt()
        except Exception as exc:
            kind = classify(exc)
            self._log.log(30 if kind is FaultKind.TRANSIENT else 10, "vsphere call failed", method=name,
                          fault=fault_name(exc), kind=kind.value, message=fault_message(exc))
            raise

    def ping(self) -> bool:
        """True when the server answers and the session is valid (re-logging in if needed)."""
        try:
            self.call(self.si.CurrentTime)
            return True
        except Exception:  # noqa: BLE001
            return False

    def relogin(self) -> None:
        """Log in again on the same stub (managed-object references stay valid)."""
        if self._stub is None:
            raise ConnectError(f"{self.settings.name}: not connected")
        self._relogin_after(self._stub.generation)

    # -- internals -------------------------------------------------------------------------------------------
    def _relogin_after(self, generation: int) -> None:
        stub = self._stub
        if stub is None:
            raise ConnectError(f"{self.settings.name}: not connected")
        with self._lock:
            if stub.generation != generation:
                return                     # another thread logged in meanwhile
            s = self.settings
            try:
                _session_manager(self._content).Login(s.username, s.password.get_secret_value(), None)
            except Exception as exc:  # noqa: BLE001
                if self._session_alive():
                    # the server still holds our session (the NotAuthenticated was about one call, not the
                    # session): nothing to re-establish, and the credentials are not the problem
                    self._log.info("session still valid; no new login needed", user=s.user_label)
                    stub.generation += 1
                    return
                raise self._connect_error(exc) from None
            stub.generation += 1
            self._log.info("logged in again", user=s.user_label)

    def _session_alive(self) -> bool:
        try:
            return _session_manager(self._content).currentSession is not None
        except Exception:  # noqa: BLE001 - NotAuthenticated or gone: not alive
            return False

    def _remember_local_address(self, address: str) -> None:
        self._local_address = address

    def _route_address(self) -> str | None:
        """Fallback: the source address the kernel would use to reach the server (no packet is sent)."""
        s = self.settings
        try:
            family = socket.getaddrinfo(s.host, s.port, proto=socket.IPPROTO_TCP)[0][0]
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((s.host, s.port))
                address: str = sock.getsockname()[0]
                return address
        except OSError:
            return None

    def _negotiate_version(self, ctx: ssl.SSLContext, conn_class: type[http.client.HTTPSConnection]) -> str:
        """Pick the newest API version both pyVmomi and the server speak (``/sdk/vimServiceVersions.xml``),
        fetched over the same pinned TLS as the session."""
        s = self.settings
        conn = conn_class(s.host, s.port, context=ctx, timeout=min(s.timeout, 30.0))
        try:
            conn.request("GET", SDK_PATH + "/vimServiceVersions.xml")
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise ConnectError(f"{s.address} is not a vSphere API endpoint (GET {SDK_PATH}/vimServiceVersions.xml: "
                               f"HTTP {resp.status})")
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise ConnectError(f"{s.address} is not a vSphere API endpoint (unreadable vimServiceVersions.xml)") \
                from None
        offered: set[str] = set()
        for namespace in root.iter("namespace"):
            offered.update(v.text or "" for v in namespace.iter("version"))
        for version in GetServiceVersions("vim25"):
            if versionIdMap.get(version) in offered:
                return str(version)
        raise ConnectError(f"{s.address} offers no API version this pyVmomi speaks ({sorted(offered)})")

    def _connect_error(self, exc: BaseException) -> ConnectError:
        s = self.settings
        where = s.address
        kind = classify(exc)
        if isinstance(exc, ThumbprintMismatch):
            msg = (f"TLS thumbprint mismatch for {where}: the server presents {exc.actual}, pinned {exc.expected}; "
                   "update tls.thumbprint only if the certificate was legitimately replaced")
        elif isinstance(exc, ssl.SSLCertVerificationError):
            presented = tls.server_fingerprint(s.host, s.port)
            hint = "set tls.caFile or tls.thumbprint"
            if presented:
                hint += f" (the server's certificate SHA-256 is {presented})"
            msg = f"TLS verification failed for {where}: {tls.describe_verify_error(exc)}; {hint}"
        elif isinstance(exc, ssl.SSLError):
            msg = f"TLS handshake with {where} failed: {exc.reason or exc}"
        elif isinstance(exc, vim.fault.InvalidLogin):
            msg = f"login to {where} as {s.user_label} failed: invalid username or password"
        elif isinstance(exc, vim.fault.NoPermission):
            msg = f"login to {where} as {s.user_label} failed: no permission ({describe(exc)})"
        elif isinstance(exc, socket.gaierror):
            msg = f"cannot resolve {s.host}: {exc.strerror or exc}"
        elif isinstance(exc, ConnectionRefusedError):
            msg = f"cannot connect to {where}: connection refused"
        elif isinstance(exc, (TimeoutError, socket.timeout)):
            msg = f"cannot connect to {where}: timed out"
        elif isinstance(exc, OSError):
            msg = f"cannot connect to {where}: {exc.strerror or exc}"
        elif isinstance(exc, http.client.HTTPException):
            msg = f"{where} did not answer as a vSphere API endpoint: {fault_name(exc)} {exc}".rstrip()
        elif isinstance(exc, vmodl.MethodFault):
            msg = f"login to {where} failed: {describe(exc)}"
        else:
            msg = f"cannot connect to {where}: {describe(exc)}"
        return ConnectError(msg, kind=FaultKind.TRANSIENT if kind is FaultKind.TRANSIENT else FaultKind.PERMANENT)


def _session_manager(content: vim.ServiceInstanceContent | None) -> vim.SessionManager:
    """The session manager of a connected session (raises ConnectError when there is none)."""
    manager = content.sessionManager if content is not None else None
    if manager is None:
        raise ConnectError("not connected")
    return manager


def _callable_name(fn: Callable[..., Any]) -> str:
    """``HostServiceSystem.StopService`` for a pyVmomi bound method (a closure over a ManagedMethod)."""
    for cell in getattr(fn, "__closure__", None) or ():
        value = cell.cell_contents
        info = getattr(value, "info", None)
        if info is not None and getattr(info, "wsdlName", None):
            owner = getattr(getattr(info, "type", None), "_wsdlName", None)
            return f"{owner}.{info.wsdlName}" if owner else str(info.wsdlName)
    return getattr(fn, "__qualname__", None) or type(fn).__name__
