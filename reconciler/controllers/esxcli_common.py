"""What the esxcli-backed host controllers share: a base class whose observed state is polled esxcli reads, the
value of one read, and the write (one `ExecuteSoap` per change, through the connection's retries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ObjectState
from reconciler.vsphere import esxcli
from reconciler.vsphere.protocol import Connection


class EsxcliController(Controller):
    """A HostSecurityPolicy section read with esxcli (declared as `Polled(name, esxcli=Command(...))`)."""

    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = ()
    policy_parameters = ("remediation",)


def read(state: ObjectState, name: str) -> Any:
    """The value of a polled esxcli read (None when it was not read)."""
    value = state.polled.get(name)
    return None if value is None else value.value


def rows(state: ObjectState, name: str, key: str) -> dict[str, dict[str, Any]]:
    """A list command's rows by one field (`Key`, `Name`, `UserID`)."""
    value = read(state, name)
    return {str(r.get(key)): r for r in value or [] if isinstance(r, dict)}


def struct(state: ObjectState, name: str) -> dict[str, Any] | None:
    """A get command's struct (a list of one row is accepted too: some builds answer `get` as rows)."""
    value = read(state, name)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return value if isinstance(value, dict) else None


def field(value: Mapping[str, Any] | None, name: str) -> Any:
    """A struct field, matched without regard to case (hosts' spelling of e.g. `Shellaccess` varies)."""
    if value is None:
        return None
    if name in value:
        return value[name]
    lowered = name.lower()
    return next((v for k, v in value.items() if k.lower() == lowered), None)


def flag(value: Mapping[str, Any] | None, name: str) -> bool | None:
    raw = field(value, name)
    return None if raw is None else esxcli.boolean(raw)


def run(conn: Connection, state: ObjectState, command: esxcli.Command, **args: Any) -> None:
    """One esxcli command that changes the host; a `false` answer is a failure."""
    esxcli.run_set(conn, state.mo, command, args, name=state.ref.name)
