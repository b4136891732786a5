"""What the VM controllers share: the power-state gate (`powerCycle`), policy-wide parameters, reconfigure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyVmomi import vim

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, FieldPath, Impact, ObjectState, Skip, power_mode, powered_on
from reconciler.vsphere import tasks
from reconciler.vsphere.protocol import Connection

ALLOW_FIRMWARE_CHANGE: FieldPath = ("allowFirmwareChange",)
VM_PROPERTIES = ("runtime.powerState",)


def gate(diff: FieldDiff, state: ObjectState, desired: Mapping[FieldPath, Any]) -> FieldDiff:
    """Label a change that needs the VM powered off according to `powerCycle`:
    Never -> never applied (reported); IfPoweredOff -> applied only while the VM is off;
    Allowed -> applied, the engine shuts the guest down and powers the VM on again around it."""
    if diff.skip is not None or diff.impact is not Impact.POWER_CYCLE:
        return diff
    mode = power_mode(desired)
    if mode == "Never":
        return _skip(diff, "the change needs the VM powered off and powerCycle is Never")
    if powered_on(state) and mode != "Allowed":
        return _skip(diff, "the VM must be powered off for this change; powerCycle: IfPoweredOff applies it "
                           "the next time the VM is found off (powerCycle: Allowed power-cycles it)")
    return diff


def _skip(diff: FieldDiff, message: str) -> FieldDiff:
    return FieldDiff(diff.path, diff.current, diff.desired, diff.subject, diff.impact, Skip.NEEDS_POWER_OFF, message)


class VMController(Controller):
    """Base of the VM controllers: VMSecurityPolicy fields on VirtualMachine objects, with the policy-wide
    parameters passed along (see `reconciler.engine.policies`)."""

    managed_type = "VirtualMachine"
    policy_kind = "VMSecurityPolicy"
    policy_parameters = None


def reconfigure(conn: Connection, vm: Any, spec: Any) -> None:
    tasks.run(conn, vm.ReconfigVM_Task, spec=spec)


def config_spec(**kw: Any) -> Any:
    return vim.vm.ConfigSpec(**kw)
