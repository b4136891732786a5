"""root's SSH authorized keys (seed 000): `sshAuthorizedKeys.root`, compared as a set of keys (type and key
material; comments ignored). Plans, events and reports show SHA-256 fingerprints, never the keys.

There is no vSphere API property or method for the file: a directly connected host serves it over HTTPS at
`/host/ssh_root_authorized_keys` (GET, PUT with the API session). It is a polled source (no property updates to
watch): read by every plan, right after vsr's writes, and by the daemon on the poll interval. Through vCenter the
endpoint does not exist: `unsupported`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Mapping
from typing import Any

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Polled, Skip
from reconciler.vsphere import hostfiles
from reconciler.vsphere.protocol import Connection

ROOT = ("sshAuthorizedKeys", "root")
ENDPOINT = "ssh_root_authorized_keys"
SOURCE = "rootAuthorizedKeys"
CONNECTION_STATE = "runtime.connectionState"
THROUGH_VCENTER = ("root's authorized_keys are served only by the host's own HTTPS endpoint "
                   "(/host/ssh_root_authorized_keys) with a host session, which vCenter does not offer; connect "
                   "to the host directly to manage them")

Key = tuple[str, str]  # (type, base64 key material)


def parse_key(line: str) -> Key | None:
    """(type, base64) of one authorized_keys line without options, or None (blank, comment, unreadable)."""
    parts = line.strip().split()
    if len(parts) < 2 or parts[0].startswith("#"):
        return None
    kind, material = parts[0], parts[1]
    try:
        blob = base64.b64decode(material, validate=True)
        (length,) = struct.unpack(">I", blob[:4])
    except (binascii.Error, struct.error):
        return None
    return (kind, material) if blob[4:4 + length] == kind.encode() else None


def fingerprint(key: Key, line: str = "") -> str:
    """`SHA256:<base64>` as ssh-keygen -l prints it, with the key type and the line's comment."""
    digest = base64.b64encode(hashlib.sha256(base64.b64decode(key[1])).digest()).decode().rstrip("=")
    comment = " ".join(line.split()[2:])
    return f"SHA256:{digest} {key[0]}" + (f" {comment}" if comment else "")


def keys_of(text: str) -> dict[Key, str]:
    """The keys of an authorized_keys file, each with its first line; lines vsr cannot read (options, garbage)
    are kept under their own text so that they count as a difference."""
    out: dict[Key, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key = parse_key(line)
        out.setdefault(key or ("unreadable", hashlib.sha256(line.encode()).hexdigest()), line)
    return out


def shown(keys: Mapping[Key, str]) -> list[str]:
    return sorted(f"unreadable line (sha256 {k[1][:16]})" if k[0] == "unreadable" else fingerprint(k, line)
                  for k, line in keys.items())


def read_authorized_keys(conn: Connection, state: ObjectState, desired: Mapping[FieldPath, Any]) -> str | None:
    """The file's text over a direct connection (one host: one GET); None through vCenter (no endpoint)."""
    if conn.is_vcenter:
        return None
    if str(state.props.get(CONNECTION_STATE, "connected")) != "connected":
        raise RuntimeError(f"the host is {state.props.get(CONNECTION_STATE)}: its authorized_keys cannot be read")
    return hostfiles.get(conn, ENDPOINT)


class HostSshAuthorizedKeys(Controller):
    name = "sshAuthorizedKeys"
    order = 85  # after local accounts (82), before lockdown (90)
    spec_key = "sshAuthorizedKeys"
    managed_type = "HostSystem"
    policy_kind = "HostSecurityPolicy"
    properties = (CONNECTION_STATE,)  # the endpoint is read only from a connected host
    polled = (Polled(SOURCE, via=CONNECTION_STATE, method="GET /host/ssh_root_authorized_keys",
                     reader=read_authorized_keys),)

    def observe(self, state: ObjectState) -> None:
        read = state.polled.get(SOURCE)
        if read is None:
            return
        if read.value is None:
            state.own(self.name)["unsupported"] = THROUGH_VCENTER
        else:
            state.own(self.name)["keys"] = keys_of(str(read.value))

    def display(self, path: FieldPath, value: Any) -> Any:
        return shown(keys_of("\n".join(value))) if path == ROOT and isinstance(value, list) else value

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        if ROOT not in desired:
            return []
        want = keys_of("\n".join(desired[ROOT]))
        own = state.own(self.name)
        if own.get("unsupported"):
            return [FieldDiff(ROOT, None, shown(want), skip=Skip.UNSUPPORTED, message=own["unsupported"])]
        have = own.get("keys")
        if have is None:
            raise RuntimeError("root's authorized keys were not read")
        if set(have) == set(want):
            return []
        return [FieldDiff(ROOT, shown(have), shown(want))]

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        lines = list(keys_of("\n".join(desired[ROOT])).values())
        hostfiles.put(conn, ENDPOINT, "".join(line.strip() + "\n" for line in lines))
