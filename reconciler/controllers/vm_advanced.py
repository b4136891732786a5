"""VM advanced settings (extraConfig): `advancedSettings.<key>`.

vSphere stores extraConfig values as strings. Desired values are written as vSphere stores them: booleans as
"TRUE"/"FALSE" (the SCG and STIG spelling), numbers in decimal. Comparison treats "true"/"TRUE"/"True" as the same
value, so a VM configured by another tool in another case never shows perpetual drift; other strings compare exactly.

A setting can also be a condition (`reconciler.api.models.VMAdvancedCondition`):
- `{absent: true}`: the key must not exist; the key may be a pattern (`ethernet*.filter*.name`, matched without
  regard to case, as the VMX reads keys) and then covers every key it matches. Remediation removes the keys
  (ReconfigVM_Task with an empty value, which is how vSphere deletes an extraConfig key).
- `{value: V, undefinedIsCompliant: true}`: V, or no key at all (SCG's "TRUE or Undefined"); remediation writes V.

A powered-on VM accepts the write, but the VMX reads it only at the next cold start: such a field is reported
`pendingPowerCycle` (not drift) until the VM has been powered on after the change."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip, powered_on
from reconciler.controllers.vm_common import VMController, config_spec, reconfigure
from reconciler.vsphere.protocol import Connection

_BOOLS = {"true", "false"}
ABSENT = "absent"
GLOB_CHARS = frozenset("*?[")


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


def is_pattern(key: str) -> bool:
    return bool(GLOB_CHARS & set(key))


@dataclass(frozen=True)
class Want:
    """One desired advanced setting: a value (`undefined_ok`: no key is compliant too) or absence."""

    absent: bool
    value: Any = None
    undefined_ok: bool = False

    @classmethod
    def of(cls, desired: Any) -> Want:
        if isinstance(desired, Mapping):
            if desired.get("absent"):
                return cls(absent=True)
            return cls(absent=False, value=desired.get("value"), undefined_ok=bool(desired.get("undefinedIsCompliant")))
        return cls(absent=False, value=desired)

    @property
    def shown(self) -> str:
        """The desired value as the plan shows it."""
        return ABSENT if self.absent else to_vsphere(self.value)


def matching(options: Mapping[str, Any], key: str) -> list[str]:
    """The extraConfig keys a desired key names: itself, or every key a pattern matches (case-insensitive)."""
    if not is_pattern(key):
        return [key] if key in options else []
    pattern = key.lower()
    return sorted(k for k in options if fnmatch.fnmatchcase(k.lower(), pattern))


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
        for path, raw in sorted(desired.items()):
            if path[0] != self.spec_key:
                continue
            want = Want.of(raw)
            keys = matching(options, path[1])
            if want.absent:
                current: Any = (options[keys[0]] if keys and not is_pattern(path[1])
                                else "; ".join(f"{k}={options[k]}" for k in keys) or None)
                compliant = not keys
                subject = ", ".join(keys) if is_pattern(path[1]) else ""
            else:
                current = options.get(path[1])
                compliant = same(current, want.value) or (current is None and want.undefined_ok)
                subject = ""
            if not compliant:
                note = "takes effect at the VM's next cold start" if powered_on(state) else ""
                diffs.append(FieldDiff(path, current, want.shown, subject=subject, impact=Impact.POWER_CYCLE,
                                       message=note))
            elif powered_on(state) and path in remediated and (boot is None or remediated[path] > boot):
                diffs.append(FieldDiff(path, current, want.shown, impact=Impact.POWER_CYCLE,
                                       skip=Skip.PENDING_POWER_CYCLE,
                                       message="written while the VM was running; takes effect at its next cold start"))
        return diffs

    def apply(self, conn: Connection, state: ObjectState, diffs: list[FieldDiff],
              desired: Mapping[FieldPath, Any]) -> None:
        options = {o.key: o.value for o in state.props.get("config.extraConfig") or []}
        values = []
        for d in diffs:
            if d.desired == ABSENT and Want.of(desired.get(d.path)).absent:
                # an empty value deletes the key (VirtualMachineConfigSpec.extraConfig)
                values += [vim.option.OptionValue(key=k, value="") for k in matching(options, d.path[1])]
            else:
                values.append(vim.option.OptionValue(key=d.path[1], value=d.desired))
        reconfigure(conn, state.mo, config_spec(extraConfig=values))
