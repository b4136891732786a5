"""esxcli over the VIM API: `HostSystem.RetrieveManagedMethodExecuter` + `ExecuteSoap`, as `Get-EsxCli -V2` does.

pyVmomi has no public types for the reflect API, so the two requests are posted as plain SOAP over the session's
own stub (its pooled TLS connections and session cookie) and the answers are read as plain XML. Works through
vCenter (also for hosts in lockdown mode) and on a directly connected ESXi host.

    value = esxcli.execute(conn, host, Command("system ssh server config", "list"))
    # [{"Key": "ciphers", "Value": "aes256-gcm@openssh.com,..."}, ...]

Results: `ArrayOfDataObject` -> list of dicts, one struct -> dict, `xsd:*` -> bool | int | str. Fields of rows and
structs are strings as the host sends them (`boolean` / `integer` convert them). A command-level fault
(`EsxCLI.CLIFault`) raises `EsxcliError` with one line naming host and command; a SOAP fault saying the method or
managed object does not exist raises `EsxcliUnsupported` (older builds, plain simulators). Wire facts:
reference/esxcli-over-vim.md. The executer is retrieved once per host and session stub, then cached.
"""

from __future__ import annotations

import threading
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from xml.sax.saxutils import escape

from pyVmomi import vmodl

from reconciler.vsphere.faults import VsphereError, fault_message, fault_name
from reconciler.vsphere.protocol import Connection

VERSION = "urn:vim25/5.0"  # the constant govmomi sends; the server answers in this version's shapes
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
VIM = "urn:vim25"
_XSI_TYPE = f"{{{XSI}}}type"
#: SOAP-level faults that mean "this host has no such esxcli command" (not "the call went wrong")
UNSUPPORTED = frozenset({"MethodNotFound", "ManagedObjectNotFound", "NotImplemented", "NotSupported",
                         "InvalidRequest"})
#: InvalidArgument on these parameters of ExecuteSoap means the same (no such handler or method on this build)
UNSUPPORTED_ARGUMENTS = frozenset({"moid", "method"})


class EsxcliError(VsphereError):
    """An esxcli command failed on a host (one line: host, command, the host's message)."""


class EsxcliUnsupported(EsxcliError):
    """The host (or the server in between) does not offer this esxcli command."""


@dataclass(frozen=True)
class Command:
    """One esxcli command: `namespace` as the CLI writes it ("system ssh server config"), `command` ("list")."""

    namespace: str
    command: str

    @property
    def moid(self) -> str:
        return "ha-cli-handler-" + "-".join(self.namespace.split())

    @property
    def method(self) -> str:
        return "vim.EsxCLI." + ".".join([*self.namespace.split(), self.command])

    def __str__(self) -> str:
        return f"esxcli {self.namespace} {self.command}"


class Transport(Protocol):
    """Posts one SOAP envelope, returns (HTTP status, body)."""

    def post(self, body: bytes) -> tuple[int, bytes]: ...

    def fault(self, body: bytes) -> BaseException:
        """The typed pyVmomi fault of a SOAP Fault body."""
        ...


class StubTransport:
    """Posts over a pyVmomi SoapStubAdapter: its connection pool, cookie and SOAPAction, like `InvokeMethod`."""

    def __init__(self, stub: Any) -> None:
        self.stub = stub

    def post(self, body: bytes) -> tuple[int, bytes]:
        stub = self.stub
        headers = {"Cookie": stub.cookie, "SOAPAction": stub.versionId, "Content-Type": "text/xml; charset=UTF-8"}
        conn = stub.GetConnection()
        try:
            conn.request("POST", stub.path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
        except Exception:
            conn.close()
            stub.DropConnections()
            raise
        stub.ReturnConnection(conn)
        return resp.status, data

    def fault(self, body: bytes) -> BaseException:
        from pyVmomi.SoapAdapter import SoapResponseDeserializer

        try:
            obj = SoapResponseDeserializer(self.stub).Deserialize(body, object)
        except Exception:  # noqa: BLE001 - an unknown detail type: keep the fault string
            obj = None
        if isinstance(obj, BaseException):
            return obj
        return vmodl.RuntimeFault(msg=_fault_string(body))


@dataclass(frozen=True)
class Ref:
    type: str
    value: str


@dataclass
class _Executers:
    refs: dict[str, Ref] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_executers: weakref.WeakKeyDictionary[Any, _Executers] = weakref.WeakKeyDictionary()
_executers_lock = threading.Lock()


def _cache(owner: Any) -> _Executers:
    with _executers_lock:
        found = _executers.get(owner)
        if found is None:
            found = _executers[owner] = _Executers()
        return found


# -- envelopes ----------------------------------------------------------------------------------------------

def _envelope(inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="{XSI}"><soapenv:Body>{inner}'
            f'</soapenv:Body></soapenv:Envelope>').encode()


def retrieve_request(host_moid: str) -> bytes:
    return _envelope(f'<RetrieveManagedMethodExecuter xmlns="{VIM}"><_this type="HostSystem">{escape(host_moid)}'
                     f'</_this></RetrieveManagedMethodExecuter>')


def wire_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_argument(name: str, value: Any) -> str:
    """One `<argument>`: `val` is the XML fragment `<name>text</name>` (repeated for a list), escaped."""
    values = value if isinstance(value, (list, tuple)) else [value]
    fragment = "".join(f"<{name}>{escape(wire_text(v))}</{name}>" for v in values)
    return f"<argument><name>{escape(name)}</name><val>{escape(fragment)}</val></argument>"


def execute_request(executer: Ref, command: Command, args: Mapping[str, Any]) -> bytes:
    """ExecuteSoap; arguments in alphabetical order (the order of the method's declared parameters)."""
    arguments = "".join(encode_argument(k, v) for k, v in sorted(args.items()) if v is not None)
    return _envelope(f'<ExecuteSoap xmlns="{VIM}"><_this type="{escape(executer.type)}">{escape(executer.value)}'
                     f'</_this><moid>{command.moid}</moid><version>{VERSION}</version>'
                     f'<method>{command.method}</method>{arguments}</ExecuteSoap>')


# -- responses ----------------------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _returnval(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    for element in root.iter():
        if _local(element.tag) == "returnval":
            return element
    raise EsxcliError("the answer has no returnval")


def parse_executer(body: bytes) -> Ref:
    ret = _returnval(body)
    return Ref(ret.get("type") or "ReflectManagedMethodExecuter", (ret.text or "").strip())


def _scalar(kind: str, text: str) -> Any:
    kind = kind.rsplit(":", 1)[-1]
    if kind == "boolean":
        return boolean(text)
    if kind in ("long", "int", "short", "byte"):
        return int(text)
    return text


def _value(element: ET.Element) -> Any:
    kind = element.get(_XSI_TYPE)
    children = list(element)
    if kind == "ArrayOfDataObject":
        return [_value(c) for c in children]
    if kind and kind.startswith("ArrayOf"):
        return [_value(c) for c in children]
    if not children:
        text = element.text or ""
        return _scalar(kind, text) if kind and kind.startswith("xsd:") else text
    out: dict[str, Any] = {}
    for child in children:
        name, value = _local(child.tag), _value(child)
        if name in out:
            existing = out[name]
            out[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[name] = value
    return out


def parse_response(text: str) -> Any:
    """The `response` document of a SoapResult: rows, a struct or a scalar (see the module's docstring)."""
    if not text.strip():
        return None
    return _value(ET.fromstring(text))


def cli_messages(detail: str) -> list[str]:
    """The `errMsg` lines of a serialized `VimEsxCLICLIFault` (empty when the detail is something else)."""
    try:
        root = ET.fromstring(detail)
    except ET.ParseError:
        return []
    return [" ".join((e.text or "").split()) for e in root.iter() if _local(e.tag) == "errMsg" and e.text]


def parse_result(body: bytes, command: Command, host: str) -> Any:
    """An ExecuteSoapResponse: the parsed response, or EsxcliError for a fault inside the SoapResult."""
    ret = _returnval(body)
    fault = next((c for c in ret if _local(c.tag) == "fault"), None)
    if fault is not None:
        msg = next((c.text or "" for c in fault if _local(c.tag) == "faultMsg"), "")
        detail = next((c.text or "" for c in fault if _local(c.tag) == "faultDetail"), "")
        lines = cli_messages(detail)
        if not lines and "NotFound" in detail:
            raise EsxcliUnsupported(f"{host}: {command}: the host has no such command")
        text = "; ".join(lines) or " ".join(msg.split()) or "failed"
        raise EsxcliError(f"{host}: {command}: {text}")
    response = next((c.text or "" for c in ret if _local(c.tag) == "response"), "")
    return parse_response(response)


def _fault_string(body: bytes) -> str:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return body[:200].decode(errors="replace")
    return next((" ".join((e.text or "").split()) for e in root.iter() if _local(e.tag) == "faultstring"), "")


# -- conversions of field values ------------------------------------------------------------------------------

def boolean(text: Any) -> bool:
    """A boolean field as hosts write them (true/false, TRUE/FALSE, 1/0)."""
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise EsxcliError(f"expected a boolean, got {text!r}")


def integer(text: Any) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise EsxcliError(f"expected an integer, got {text!r}") from None


# -- calls -------------------------------------------------------------------------------------------------

class Client:
    """esxcli commands on hosts of one session. `transport` defaults to the host object's own stub."""

    def __init__(self, conn: Connection, transport: Transport | None = None) -> None:
        self.conn = conn
        self._transport = transport

    def transport(self, host: Any) -> Transport:
        return self._transport or StubTransport(host._stub)

    def _post(self, transport: Transport, body: bytes, host: str, what: str) -> bytes:
        status, data = transport.post(body)
        if status == 200:
            return data
        if status == 500:
            fault = transport.fault(data)
            if fault_name(fault) in UNSUPPORTED or (isinstance(fault, vmodl.fault.InvalidArgument)
                                                    and fault.invalidProperty in UNSUPPORTED_ARGUMENTS):
                raise EsxcliUnsupported(f"{host}: {what} is not offered by this host ({fault_name(fault)}: "
                                        f"{fault_message(fault)})") from None
            raise fault
        raise _http_error(status, data)

    def executer(self, host: Any, name: str | None = None) -> Ref:
        """The host's ManagedMethodExecuter, retrieved once per host and session stub."""
        transport = self.transport(host)
        moid = host._moId
        cache = _cache(getattr(transport, "stub", transport))
        with cache.lock:
            known = cache.refs.get(moid)
        if known is not None:
            return known
        label = name or moid
        body = self.conn.call(self._post, transport, retrieve_request(moid), label, "esxcli (RetrieveManagedMethodExecuter)")
        ref = parse_executer(body)
        with cache.lock:
            cache.refs[moid] = ref
        return ref

    def forget(self, host: Any) -> None:
        cache = _cache(getattr(self.transport(host), "stub", self.transport(host)))
        with cache.lock:
            cache.refs.pop(host._moId, None)

    def execute(self, host: Any, command: Command, args: Mapping[str, Any] | None = None, *,
                name: str | None = None) -> Any:
        """Run one command on `host` (a pyVmomi HostSystem); transient faults are retried like every call."""
        label = name or host._moId
        transport = self.transport(host)
        executer = self.executer(host, label)
        body = execute_request(executer, command, args or {})
        try:
            data = self.conn.call(self._post, transport, body, label, str(command))
        except vmodl.fault.ManagedObjectNotFound:
            self.forget(host)  # the executer of an old session: retrieve it again, once
            executer = self.executer(host, label)
            data = self.conn.call(self._post, transport, execute_request(executer, command, args or {}), label,
                                  str(command))
        return parse_result(data, command, label)

    def run_many(self, host: Any, commands: Iterable[Command], *, name: str | None = None,
                 ) -> dict[Command, Any]:
        """Several read commands on one host with one executer: {command: value or the exception it raised}.
        A failure to reach the executer is every command's exception."""
        out: dict[Command, Any] = {}
        commands = list(dict.fromkeys(commands))
        try:
            self.executer(host, name)
        except Exception as exc:  # noqa: BLE001 - the host's reads fail together, others go on
            return {c: exc for c in commands}
        for command in commands:
            try:
                out[command] = self.execute(host, command, name=name)
            except Exception as exc:  # noqa: BLE001 - one command's fault never stops the others
                out[command] = exc
        return out


def _http_error(status: int, data: bytes) -> Exception:
    import http.client

    return http.client.HTTPException(f"{status} {data[:120].decode(errors='replace').strip()}")


def execute(conn: Connection, host: Any, command: Command, args: Mapping[str, Any] | None = None, *,
            name: str | None = None) -> Any:
    """`Client(conn).execute(...)`: one command on one host."""
    return Client(conn).execute(host, command, args, name=name)


def run_set(conn: Connection, host: Any, command: Command, args: Mapping[str, Any], *, name: str | None = None) -> None:
    """A command that changes something; a `false` answer is a failure."""
    result = execute(conn, host, command, args, name=name)
    if result is False:
        raise EsxcliError(f"{name or host._moId}: {command}: the host answered false")


__all__ = ["Client", "Command", "EsxcliError", "EsxcliUnsupported", "Ref", "StubTransport", "Transport", "boolean",
           "cli_messages", "execute", "execute_request", "integer", "parse_executer", "parse_response",
           "parse_result", "retrieve_request", "run_set"]
