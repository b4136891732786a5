"""The host's configuration encryption (`encryption.mode`, `.requireSecureBoot`, `.requireExecInstalledOnly`),
with esxcli over the VIM API (esxcli system settings encryption get/set). TPM mode cannot be undone: a policy
asking for NONE on a TPM host is reported unsupported, never attempted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers import esxcli_common as common
from reconciler.controllers.contract import FieldDiff, FieldPath, ObjectState, Polled, Skip
from reconciler.vsphere.esxcli import Command
from reconciler.vsphere.protocol import Connection

SOURCE = "esxcli.settingsEncryption"
GET = Command("system settings encryption", "get")
SET = Command("system settings encryption", "set")
#: spec leaf -> (esxcli get field, esxcli set parameter)
FIELDS = {"mode": ("Mode", "mode"),
          "requireSecureBoot": ("RequireSecureBoot", "requiresecureboot"),
          "requireExecInstalledOnly": ("RequireExecutablesOnlyFromInstalledVIBs", "requireexecinstalledonly")}


class HostEncryption(common.EsxcliController):
    name = "hostEncryption"
    order = 74
    spec_key = "encryption"
    polled = (Polled(SOURCE, esxcli=GET),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        settings = common.struct(state, SOURCE)
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key or path[1] not in FIELDS:
                continue
            name = FIELDS[path[1]][0]
            current = common.field(settings, name) if path[1] == "mode" else common.flag(settings, name)
            if current == want:
                continue
            if path[1] == "mode" and current == "TPM":
                diffs.append(FieldDiff(path, current, want, skip=Skip.UNSUPPORTED,
                                       message="TPM configuration encryption cannot be undone on ESXi"))
            else:
                diffs.append(FieldDiff(path, current, want))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        common.run(conn, state, SET, **{FIELDS[d.path[1]][1]: d.desired for d in diffs})
