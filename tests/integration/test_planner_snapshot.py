"""The planner's bulk snapshot against the simulator (issue 21: `planner.snapshot` and `plan_vcenter`): which
objects enter the plan with which placement, which are listed as unmanaged, the vCenter's own singletons, polled
sources and prefetch, the waiver day and remediation times handed through, and the note when no VMSecurityPolicy
targets the vCenter. Read only: one shared simulator and connection, nothing is written. Each test plans itself
(so that the mutation check maps every test to the planner code it runs)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyVmomi import vim

from harness import Workspace, by_name
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
PROMISCUOUS = ("networkSecurity", "allowPromiscuous")
WAIVED_ON = dt.date(2000, 1, 1)  # a day the waiver below is active (it expired long ago)
WAIVER = WaiverRule("old", {"hosts": ["DC0_C0_H0"]}, ("acceptanceLevel.*",), (), "r", "ops", WAIVED_ON)
REMEDIATED = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
NO_VM_POLICY = "no VMSecurityPolicy targets this vCenter: VMs were not checked"
HOSTS = ("HostSecurityPolicy", 'selector: {hosts: ["DC0_C0_H0"]}\nservices: {TSM-SSH: {running: true}}\n'
                               'acceptanceLevel: {minimum: VMwareCertified}')
VMS = ("VMSecurityPolicy", 'selector: {vms: ["DC0_H0_VM0"]}\nadvancedSettings: {isolation.tools.copy.disable: "TRUE"}\n'
                           'vtpm: required')
VC = ("VCenterSecurityPolicy", "advancedSettings: {config.log.level: verbose}")
NET = ("HostSecurityPolicy", 'selector: {datacenters: ["DC0"]}\n'
                             'networkSecurity: {allowPromiscuous: true, distributedPortgroups: ["DC0_DVPG0"]}')


def names(si, vim_type: type) -> list[str]:
    """Every object of a type (VMs: not templates), read through pyVmomi independently of the planner."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        return sorted(o.name for o in view.view if not (vim_type is vim.VirtualMachine and o.config.template))
    finally:
        view.Destroy()


@pytest.fixture(scope="module")
def env(sim, tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("conn"), sim)
    specs = compile_documents(load_specs([ws.specs]).documents, dt.date.today())
    conn = Connection(settings_from_spec("sim", specs.vcenters["sim"].model.spec)).connect()
    counter = iter(range(100))

    def plan_with(docs: dict[str, tuple[str, str]], **kw) -> planner.VCenterPlan:
        ws = Workspace(tmp_path_factory.mktemp(f"plan{next(counter)}"), sim)
        for doc, (kind, spec) in docs.items():
            ws.policy(doc, spec, kind=kind)
        specs = compile_documents(load_specs([ws.specs]).documents, dt.date.today())
        return planner.plan_vcenter(conn, facts_of(conn, "sim"), specs.policies, [WAIVER], **kw)

    try:
        yield plan_with, sim.connect()
    finally:
        conn.close()


def summary(vplan) -> list[tuple]:
    return [(po.state.ref.type, po.state.ref.name, po.state.ref.vcenter, sorted(po.desired)) for po in vplan.objects]


def test_host_policies_alone_plan_the_selected_host_with_its_placement_and_leave_vms_out(env):
    plan_with, si = env
    vplan = plan_with({"ssh": HOSTS})
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


def test_vm_and_vcenter_policies_bring_vms_into_the_tree_and_read_the_vcenters_settings(env):
    plan_with, si = env
    moid = by_name(si, vim.HostSystem, "DC0_C0_H0")._moId
    vplan = plan_with({"ssh": HOSTS, "vm": VMS, "vc": VC}, today=WAIVED_ON, remediated={(moid, SSH): REMEDIATED})
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


def test_a_suspended_vm_policy_leaves_vms_unchecked(env):
    plan_with, _ = env
    vplan = plan_with({"ssh": HOSTS, "vm": (VMS[0], VMS[1] + "\nsuspend: true")})
    assert summary(vplan) == [("HostSystem", "DC0_C0_H0", "sim", ["acceptanceLevel", "services"])]
    assert {r.type for r in vplan.plan.unmanaged} == {"HostSystem"}
    assert vplan.plan.notes == ["policy vm is suspended", NO_VM_POLICY]


def test_a_dv_portgroup_outside_the_tree_takes_its_datacenter_from_its_folder(env):
    plan_with, _ = env
    vplan = plan_with({"net": NET})
    (po,) = [po for po in vplan.objects if po.state.ref.type == "DistributedVirtualPortgroup"]
    assert (po.state.ref.name, sorted(po.desired)) == ("DC0_DVPG0", ["dvPortgroupSecurity"])
    assert po.state.placement == planner.Placement(datacenter="DC0")
    assert [(c.path, c.current, c.desired) for c in po.changes] == [(PROMISCUOUS, False, True)]
    assert {po.state.ref.type for po in vplan.objects} == {"HostSystem", "DistributedVirtualPortgroup"}, \
        "the vSwitches of every host of DC0 too"
