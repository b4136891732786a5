"""Kernel entropy settings (`kernel.disableHwrng`, `kernel.entropySources`), with esxcli over the VIM API (esxcli
system settings kernel list/set). Both take effect at the host's next reboot: held back (`needsReboot`) unless
`remediation.reboot` is Allowed, then `pendingReboot` while the configured value is not yet the runtime one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.controllers import esxcli_common as common
from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Polled, Skip, gate_reboot
from reconciler.vsphere import esxcli
from reconciler.vsphere.esxcli import Command
from reconciler.vsphere.protocol import Connection

SOURCE = "esxcli.kernelSettings"
LIST = Command("system settings kernel", "list")
SET = Command("system settings kernel", "set")


def typed(setting: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        return esxcli.boolean(value) if setting == "disableHwrng" else esxcli.integer(value)
    except esxcli.EsxcliError:
        return str(value)


def wire(value: Any) -> str:
    return ("TRUE" if value else "FALSE") if isinstance(value, bool) else str(value)


class HostKernel(common.EsxcliController):
    name = "kernel"
    order = 79  # esxcli group 71-79 (activeDirectory is 75)
    spec_key = "kernel"
    polled = (Polled(SOURCE, esxcli=LIST),)

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        settings = common.rows(state, SOURCE, "Name")
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key:
                continue
            row = settings.get(path[1])
            if row is None:
                diffs.append(FieldDiff(path, None, want, skip=Skip.UNSUPPORTED,
                                       message=f"host {state.ref.name} has no kernel setting {path[1]!r}"))
                continue
            configured = typed(path[1], common.field(row, "Configured"))
            runtime = typed(path[1], common.field(row, "Runtime"))
            if configured != want:
                diffs.append(gate_reboot(FieldDiff(path, configured, want, impact=Impact.REBOOT,
                                                   message="takes effect at the host's next reboot"), desired))
            elif runtime is not None and runtime != configured:
                diffs.append(FieldDiff(path, configured, want, impact=Impact.REBOOT, skip=Skip.PENDING_REBOOT,
                                       message=f"configured; the running kernel has {wire(runtime)} until the "
                                               f"host's next reboot"))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        for d in diffs:
            common.run(conn, state, SET, setting=d.path[1], value=wire(d.desired))
