"""A planning run built by hand: a host (cluster DC0_C0) and a VM (DC0_C1) with every kind of verdict, and a
conflict on a VM vsr did not plan (no cluster), no simulator needed."""

from __future__ import annotations

import datetime as dt

from reconciler.controllers.contract import ConnectionFacts, Impact, ObjectState, Placement, Skip
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.runner import RunResult
from reconciler.engine.types import Change, DesiredValue, ObjectProblem, Plan
from reconciler.events.model import ObjectRef

HOST = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
VM = ObjectRef("VirtualMachine", "vm-1", "web-01", "lab")
OTHER_VM = ObjectRef("VirtualMachine", "vm-2", "db-01", "lab")
FIXED = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.timezone.utc)


def want(value, line, policy="scg-8-host", file="specs/scg-8/host.yaml"):
    return DesiredValue(value, policy, f"{file}:{line}")


def change(ref, controller, path, current, desired, line, reason=None, message="", subject="", impact=Impact.NONE,
           policy="scg-8-host", file="specs/scg-8/host.yaml"):
    return Change(ref, controller, path, current, desired, impact=impact, policy=policy, source=f"{file}:{line}",
                  subject=subject, reason=reason, message=message)


def build_run(problem: bool = False) -> RunResult:
    host_changes = [
        change(HOST, "services", ("services", "TSM-SSH", "running"), True, False, 16),
        change(HOST, "advancedSettings", ("advancedSettings", "Mem.ShareForceSalting"), 0, 2, 40, Skip.WAIVED,
               "waived by tps-lab until 2027-03-31 (ops@example.com): lab"),
        change(HOST, "advancedSettings", ("advancedSettings", "Custom.Key"), None, 1, 41, Skip.UNSUPPORTED,
               "advanced setting 'Custom.Key' does not exist on host esx-01"),
        change(HOST, "vswitchSecurity", ("networkSecurity", "allowPromiscuous"), True, False, 50,
               subject="vSwitch vSwitch0"),
    ]
    host = PlannedObject(ObjectState(HOST, {}, placement=Placement("DC0", "DC0_C0")), {
        "services": {("services", "TSM-SSH", "running"): want(False, 16),
                     ("services", "TSM-SSH", "policy"): want("off", 16)},
        "advancedSettings": {("advancedSettings", "Mem.ShareForceSalting"): want(2, 40),
                             ("advancedSettings", "Custom.Key"): want(1, 41),
                             ("advancedSettings", "UserVars.DcuiTimeOut"): want(600, 30)},
        "vswitchSecurity": {("networkSecurity", "allowPromiscuous"): want(False, 50),
                            ("networkSecurity", "excludePortgroups"): want(["Capture-*"], 51)},
    }, host_changes)
    vm_file = "specs/scg-8/vm.yaml"
    vm_changes = [
        change(VM, "vmAdvancedSettings", ("advancedSettings", "isolation.tools.copy.disable"), "TRUE", "TRUE", 15,
               Skip.PENDING_POWER_CYCLE, "written while the VM was running; takes effect at its next cold start",
               impact=Impact.POWER_CYCLE, policy="scg-8-vm", file=vm_file),
        change(VM, "vmHardwareVersion", ("minHardwareVersion",), "vmx-13", "vmx-17", 30, Skip.NEEDS_POWER_OFF,
               "the VM must be powered off for this change", impact=Impact.POWER_CYCLE, policy="scg-8-vm",
               file=vm_file),
    ]
    vm = PlannedObject(ObjectState(VM, {}, placement=Placement("DC0", "DC0_C1", "esx-02")), {
        "vmAdvancedSettings": {("advancedSettings", "isolation.tools.copy.disable"): want("TRUE", 15, "scg-8-vm", vm_file),
                               ("advancedSettings", "mks.enable3d"): want("FALSE", 25, "scg-8-vm", vm_file),
                               ("powerCycle",): want("IfPoweredOff", 36, "scg-8-vm", vm_file)},
        "vmHardwareVersion": {("minHardwareVersion",): want(17, 30, "scg-8-vm", vm_file),
                              ("powerCycle",): want("IfPoweredOff", 36, "scg-8-vm", vm_file)},
    }, vm_changes)
    conflict = change(OTHER_VM, "vmAdvancedSettings", ("advancedSettings", "log.keepOld"), None, None, 20,
                      Skip.CONFLICT, "scg-8-vm and stig-vm set different values at priority 0",
                      policy="scg-8-vm, stig-vm", file=vm_file)
    plan = Plan(changes=host_changes + vm_changes + [conflict], objects_checked=2)
    if problem:
        plan.problems.append(ObjectProblem(ObjectRef("HostSystem", "host-9", "esx-09", "lab"), "host is disconnected"))
    facts = ConnectionFacts("lab", True, "svc-vsr", None)
    return RunResult(plans=[VCenterPlan("lab", facts, [host, vm], plan)])


def build_report(problem: bool = False):
    from reconciler.report import model

    built = model.build(build_run(problem))
    built.generated = FIXED
    return built
