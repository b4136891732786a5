"""The host's sshd settings and FIPS 140 mode, with esxcli over the VIM API: `sshServer.<key>` (esxcli system ssh
server config list/set, keys and values as esxcli writes them), `fips140.ssh` / `fips140.rhttpproxy` (esxcli
system security fips140 <service> get/set)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers import esxcli_common as common
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Polled, Skip
from reconciler.vsphere.esxcli import Command
from reconciler.vsphere.protocol import Connection

SSH_CONFIG = "esxcli.sshServerConfig"
SSH_LIST = Command("system ssh server config", "list")
SSH_SET = Command("system ssh server config", "set")
NUMBERS = frozenset({"clientalivecountmax", "clientaliveinterval"})


def normal(key: str, value: Any) -> Any:
    """A value as compared: numbers as integers, yes/no in lower case, the rest exactly."""
    text = str(value).strip()
    if key in NUMBERS:
        try:
            return int(text)
        except ValueError:
            return text
    return text.lower() if text.lower() in ("yes", "no") else text


class HostSshServer(common.EsxcliController):
    name = "sshServer"
    order = 71
    spec_key = "sshServer"
    polled = (Polled(SSH_CONFIG, esxcli=SSH_LIST),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        config = common.rows(state, SSH_CONFIG, "Key")
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key:
                continue
            key = path[1]
            row = config.get(key)
            if row is None:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"the sshd of host {state.ref.name} has no setting {key!r}"))
                continue
            current, target = normal(key, common.field(row, "Value")), normal(key, want)
            if current != target:
                diffs.append(FieldDiff(path, current, target))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        for d in diffs:
            common.run(conn, state, SSH_SET, keyword=d.path[1], value=str(d.desired))


FIPS_SERVICES = ("ssh", "rhttpproxy")


def _fips_source(service: str) -> str:
    return f"esxcli.fips140.{service}"


class HostFips140(common.EsxcliController):
    name = "fips140"
    order = 72
    spec_key = "fips140"
    polled = tuple(Polled(_fips_source(s), esxcli=Command(f"system security fips140 {s}", "get"))
                   for s in FIPS_SERVICES)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key:
                continue
            current = common.flag(common.struct(state, _fips_source(path[1])), "Enabled")
            if current is not want:
                diffs.append(FieldDiff(path, current, want))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        for d in diffs:
            common.run(conn, state, Command(f"system security fips140 {d.path[1]}", "set"), enable=bool(d.desired))
