"""VM advanced settings (extraConfig): `advancedSettings.<key>`.

vSphere stores extraConfig values as strings. Desired values are written as vSphere stores them: booleans as
"TRUE"/"FALSE" (the SCG and STIG spelling), numbers in decimal. Comparison treats "true"/"TRUE"/"True" as the same
value, so a VM configured by another tool in another case never shows perpetual drift; other strings compare exactly.

A powered-on VM accepts the write, but the VMX reads it only at the next cold start: such a field is reported
`pendingPowerCycle` (not drift) until the VM has been powered on after the change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip, powered_on
from reconciler.controllers.vm_common import VMController, config_spec, reconfigure
from reconciler.vsphere.protocol import Connection

_BOOLS = {"true", "false"}


def to_vsphere(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def same(current: Any, desired: Any) -> bool:
    if current is None:
        return False
    a, b = str(current), to_vsphere(desired)
    if a.lower() in _BOOLS and b.lower() in _BOOLS:
        return a.lower() == b.lower()
    return a == b


class VMAdvancedSettings(VMController):
    name = "vmAdvancedSettings"
    order = 110
    spec_key = "advancedSettings"
    properties = ("config.extraConfig", "runtime.powerState", "runtime.bootTime")

    def diff(self, desired: Mapping[FieldPath, Any], state: ObjectState) -> list[FieldDiff]:
        options = {o.key: o.value for o in state.props.get("config.extraConfig") or []}
        remediated = state.remediated_at
        boot = state.props.get("runtime.bootTime")
        diffs: list[FieldDiff] = []
        for path, want in sorted(desired.items()):
            if path[0] != self.spec_key:
                continue
            current = options.get(path[1])
            if not same(current, want):
                note = "takes effect at the VM's next cold start" if powered_on(state) else ""
                diffs.append(FieldDiff(path, current, to_vsphere(want), impact=Impact.POWER_CYCLE, message=note))
            elif powered_on(state) and path in remediated and (boot is None or remediated[path] > boot):
                diffs.append(FieldDiff(path, current, to_vsphere(want), impact=Impact.POWER_CYCLE,
                                       skip=Skip.PENDING_POWER_CYCLE,
                                       message="written while the VM was running; takes effect at its next cold start"))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        values = [vim.option.OptionValue(key=d.path[1], value=to_vsphere(d.desired)) for d in diffs]
        reconfigure(conn, state.mo, config_spec(extraConfig=values))
