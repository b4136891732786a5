"""The planner's bulk snapshot against the simulator (issue 21: `planner.snapshot` and `plan_vcenter`): which
objects enter the plan with which placement, which are listed as unmanaged, the vCenter's own singletons, and the
note when no VMSecurityPolicy targets the vCenter. Read only: one shared simulator, nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
from pyVmomi import vim

from harness import Workspace
from reconciler.api import load_specs
from reconciler.controllers.contract import Skip
from reconciler.engine import planner
from reconciler.engine.policies import compile_documents
from reconciler.engine.runner import facts_of
from reconciler.engine.waivers import WaiverRule
from reconciler.vsphere.connection import Connection
from reconciler.vsphere.settings import settings_from_spec

pytestmark = [pytest.mark.integration]

SSH = ("services", "TSM-SSH", "running")
LEVEL = ("acceptanceLevel", "minimum")
WAIVED_ON = dt.date(2000, 1, 1)  # a day the waiver below is active (it expired long ago)
WAIVER = WaiverRule("old", {"hosts": ["DC0_C0_H0"]}, ("acceptanceLevel.*",), (), "r", "ops", WAIVED_ON)
REMEDIATED = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
NO_VM_POLICY = "no VMSecurityPolicy targets this vCenter: VMs were not checked"


def names(si, vim_type: type) -> list[str]:
    """Every object of a type, read through pyVmomi independently of the planner."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        return sorted(o.name for o in view.view if not (vim_type is vim.VirtualMachine and o.config.template))
    finally:
        view.Destroy()


@pytest.fixture(scope="module")
def planned(sim, tmp_path_factory):
    """Plans for three sets of policies on one connection: hosts only; hosts, VMs and the vCenter; suspended."""
    def plan_with(conn, name: str, docs: dict[str, tuple[str, str]], **kw):
        ws = Workspace(tmp_path_factory.mktemp(name), sim)
        for doc, (kind, spec) in docs.items():
            ws.policy(doc, spec, kind=kind)
        specs = compile_documents(load_specs([ws.specs]).documents, dt.date.today())
        return planner.plan_vcenter(conn, facts_of(conn, "sim"), specs.policies, [WAIVER], **kw)

    ws = Workspace(tmp_path_factory.mktemp("conn"), sim)
    specs = compile_documents(load_specs([ws.specs]).documents, dt.date.today())
    conn = Connection(settings_from_spec("sim", specs.vcenters["sim"].model.spec)).connect()
    host_policy = ("HostSecurityPolicy", 'selector: {hosts: ["DC0_C0_H0"]}\nservices: {TSM-SSH: {running: true}}\n'
                                         'acceptanceLevel: {minimum: VMwareCertified}')
    vm_policy = ("VMSecurityPolicy", 'selector: {vms: ["DC0_H0_VM0"]}\n'
                                     'advancedSettings: {isolation.tools.copy.disable: "TRUE"}\n'
                                     'vtpm: required')
    vc_policy = ("VCenterSecurityPolicy", 'advancedSettings: {config.log.level: verbose}')
    try:
        hosts = plan_with(conn, "hosts", {"ssh": host_policy})
        moid = hosts.objects[0].state.ref.moid
        yield {"hosts": hosts,
               "all": plan_with(conn, "all", {"ssh": host_policy, "vm": vm_policy, "vc": vc_policy},
                                today=WAIVED_ON, remediated={(moid, SSH): REMEDIATED}),
               "paused": plan_with(conn, "paused", {"ssh": host_policy,
                                                    "vm": (vm_policy[0], vm_policy[1] + "\nsuspend: true")}),
               "si": sim.connect()}
    finally:
        conn.close()


def summary(vplan) -> list[tuple]:
    return [(po.state.ref.type, po.state.ref.name, po.state.ref.vcenter, sorted(po.desired)) for po in vplan.objects]


def test_host_policies_alone_plan_the_selected_host_with_its_placement_and_leave_vms_out(planned):
    vplan, si = planned["hosts"], planned["si"]
    assert summary(vplan) == [("HostSystem", "DC0_C0_H0", "sim", ["acceptanceLevel", "services"])]
    (po,) = vplan.objects
    assert po.state.placement == planner.Placement(datacenter="DC0", cluster="DC0_C0", host="DC0_C0_H0", folder="")
    assert isinstance(po.state.mo, vim.HostSystem) and po.state.ref.moid == po.state.mo._moId
    assert str(po.state.props["runtime.connectionState"]) == "connected"
    level, ssh = vplan.plan.changes
    assert (level.path, level.current, level.desired, level.reason, level.error) == (
        LEVEL, "PartnerSupported", "VMwareCertified", None, ""), "the waiver expired long ago"
    assert level.read_at is not None and level.read_at == vplan.cache.polled[(po.state.ref.moid,
                                                                              "imageAcceptanceLevel")].read_at
    assert (ssh.path, ssh.current, ssh.desired, ssh.reason) == (SSH, False, True, None)
    assert vplan.plan.objects_checked == 1 and po.state.remediated_at == {}
    hosts = [n for n in names(si, vim.HostSystem) if n != "DC0_C0_H0"]
    assert [(r.type, r.name, r.vcenter) for r in vplan.plan.unmanaged] == [("HostSystem", n, "sim") for n in hosts]
    assert vplan.plan.notes == [NO_VM_POLICY]


def test_vm_and_vcenter_policies_bring_vms_into_the_tree_and_read_the_vcenters_settings(planned):
    vplan, si = planned["all"], planned["si"]
    assert summary(vplan) == [("VirtualMachine", "DC0_H0_VM0", "sim", ["vmAdvancedSettings", "vmVirtualTPM"]),
                              ("HostSystem", "DC0_C0_H0", "sim", ["acceptanceLevel", "services"]),
                              ("OptionManager", "VpxSettings", "sim", ["vcenterAdvancedSettings"])]
    vm, esx, settings = vplan.objects
    assert esx.state.remediated_at == {SSH: REMEDIATED} and vm.state.remediated_at == {}
    assert vm.state.placement == planner.Placement(datacenter="DC0", cluster=None, host="DC0_H0", folder="")
    assert isinstance(vm.state.mo, vim.VirtualMachine) and vm.state.template is False
    assert isinstance(settings.state.mo, vim.option.OptionManager)
    assert [(c.object.name, c.path, c.current, c.desired, c.reason, c.error) for c in vplan.plan.changes] == [
        ("DC0_C0_H0", LEVEL, "PartnerSupported", "VMwareCertified", Skip.WAIVED, ""),
        ("DC0_C0_H0", SSH, False, True, None, ""),
        ("VpxSettings", ("advancedSettings", "config.log.level"), "info", "verbose", None, ""),
        ("DC0_H0_VM0", ("vtpm",), "absent", "required", Skip.NEEDS_FIRMWARE_CHANGE, "")]
    hosts = [("HostSystem", n) for n in names(si, vim.HostSystem) if n != "DC0_C0_H0"]
    vms = [("VirtualMachine", n) for n in names(si, vim.VirtualMachine) if n != "DC0_H0_VM0"]
    assert [(r.type, r.name) for r in vplan.plan.unmanaged] == hosts + vms
    assert vplan.plan.notes == []


def test_a_suspended_vm_policy_leaves_vms_unchecked(planned):
    vplan = planned["paused"]
    assert summary(vplan) == [("HostSystem", "DC0_C0_H0", "sim", ["acceptanceLevel", "services"])]
    assert {r.type for r in vplan.plan.unmanaged} == {"HostSystem"}
    assert vplan.plan.notes == ["policy vm is suspended", NO_VM_POLICY]

