"""The planner's bookkeeping on plain data (issue 21): what `plan_objects` hands the state and the plan, the
progress reports, read faults (`_fault_changes`), labels, polled read times, placement of DV portgroups, the
unmanaged list and the plan helpers. Real controllers from the registry; no connection (nothing is read)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from pyVmomi import vim, vmodl

from reconciler import catalog, progress
from reconciler import controllers as registry
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, Impact, ObjectState, PolledValue, Skip
from reconciler.engine import planner, sources
from reconciler.engine.policies import CompiledPolicy
from reconciler.engine.types import Change, DesiredValue
from reconciler.engine.waivers import WaiverRule
from reconciler.events.model import ObjectRef
from reconciler.vsphere.esxcli import EsxcliUnsupported
from reconciler.vsphere.inventory import EntityPath, ObservedObject

TODAY = dt.date(2026, 11, 22)
FACTS = ConnectionFacts("lab", True, "administrator@vsphere.local", None)
SSH = ("services", "TSM-SSH", "running")
LEVEL = ("acceptanceLevel", "minimum")
EVERY_HOST = {"hosts": ["*"]}


def ctl(name: str):
    (c,) = [c for c in registry.ALL if c.name == name]
    return c


def host(name: str = "esx-01", moid: str = "host-1", **extra: Any) -> ObservedObject:
    props = {"runtime.connectionState": "connected",
             "config.service": SimpleNamespace(service=[SimpleNamespace(key="TSM-SSH", running=True, policy="on")]),
             **extra}
    return ObservedObject("HostSystem", moid, name, props, ref=f"mo:{moid}")


def policy(name: str, fields: dict, controller: str = "services", kind: str = "HostSecurityPolicy",
           selector: dict | None = None, enforce: bool = True) -> CompiledPolicy:
    return CompiledPolicy(kind, name, None, selector or EVERY_HOST, enforce, False, 0, f"{name}.yaml:1",
                          {controller: {p: DesiredValue(v, name, f"{name}.yaml:{i + 5}", enforce, 0)
                                        for i, (p, v) in enumerate(fields.items())}})


def plan(policies, objects, entities=None, **kw) -> planner.VCenterPlan:
    return planner.plan_objects(None, FACTS, policies, [], {o.moid: o for o in objects}, entities or {}, TODAY, **kw)


# -- plan_objects --------------------------------------------------------------------------------------------

def test_progress_is_reported_every_64_objects_in_each_phase():
    hosts = [host(f"esx-{i:02}", f"host-{i}") for i in range(66)]
    calls: list[tuple] = []
    with progress.reporting(lambda phase, done, total: calls.append((phase, done, total))):
        vplan = plan([policy("p", {SSH: False})], hosts)
    assert len(vplan.objects) == 66
    phases = ("selecting policies", "reading related objects", "checking objects")
    assert [c for c in calls if c[0] in phases] == [
        ("selecting policies", 0, 66), ("selecting policies", 64, 66), ("reading related objects", 0, 66),
        ("checking objects", 0, 66), ("checking objects", 64, 66)]


def test_state_carries_ref_object_template_and_remediation_times_per_object():
    at1 = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    at2 = dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)
    nameless = host(None, "host-2")  # type: ignore[arg-type]
    vplan = plan([policy("p", {SSH: False})], [host(), nameless],
                 remediated={("host-1", SSH): at1, ("host-1", ("services", "x", "policy")): at2,
                             ("host-9", SSH): at2})
    one, two = vplan.objects
    assert one.state.ref == ObjectRef("HostSystem", "host-1", "esx-01", "lab")
    assert two.state.ref == ObjectRef("HostSystem", "host-2", "host-2", "lab"), "no name: the moid"
    assert one.state.mo == "mo:host-1" and one.state.template is False
    assert one.state.remediated_at == {SSH: at1, ("services", "x", "policy"): at2}
    assert two.state.remediated_at == {}
    assert (vplan.vcenter, vplan.facts, vplan.plan.objects_checked) == ("lab", FACTS, 2)
    assert isinstance(vplan.cache, sources.SourceCache)


def test_a_template_is_planned_only_by_a_policy_that_selects_templates():
    key = ("advancedSettings", "isolation.tools.copy.disable")
    template = ObservedObject("VirtualMachine", "vm-1", "tpl", {"config.extraConfig": [], "config.template": True})
    vms = policy("vms", {key: "TRUE"}, "vmAdvancedSettings", "VMSecurityPolicy", {"vms": ["*"]})
    assert plan([vms], [template]).objects == []
    both = policy("vms", {key: "TRUE"}, "vmAdvancedSettings", "VMSecurityPolicy", {"vms": ["*"], "templates": True})
    (po,) = plan([both], [template]).objects
    assert po.state.template is True and [c.path for c in po.changes] == [key]


def test_a_host_without_a_connection_state_is_planned():
    obj = host()
    del obj.props["runtime.connectionState"]
    vplan = plan([policy("p", {SSH: False})], [obj])
    assert vplan.plan.problems == [] and [c.path for c in vplan.plan.changes] == [SSH]


def test_conflicts_name_the_controller_and_are_kept_apart_from_objects():
    a, b = policy("a", {SSH: False}), policy("b", {SSH: True})
    keep = policy("k", {("services", "TSM", "running"): False})
    vplan = plan([a, b, keep], [host()])
    conflict = [c for c in vplan.plan.changes if c.reason is Skip.CONFLICT]
    assert [(c.controller, c.object.moid, c.path) for c in conflict] == [("services", "host-1", SSH)]
    (po,) = vplan.objects
    assert all(c.reason is not Skip.CONFLICT for c in po.changes)
    po.changes = []
    vplan.collect_changes()
    assert vplan.plan.changes == conflict


def cached_level(moid: str, level: str, at: dt.datetime) -> sources.SourceCache:
    cache = sources.SourceCache()
    cache.polled[(moid, "imageAcceptanceLevel")] = PolledValue(level, at)
    return cache


def test_polled_values_come_from_the_cache_and_changes_carry_when_they_were_read():
    at = sources.now_utc()
    cache = cached_level("host-1", "community", at)
    vplan = plan([policy("p", {LEVEL: "VMwareAccepted"}, "acceptanceLevel")], [host()], cache=cache)
    (change,) = vplan.plan.changes
    assert (change.current, change.desired, change.reason, change.read_at) == (
        "CommunitySupported", "VMwareAccepted", None, at)
    assert vplan.cache is cache
    assert planner.polled_at(vplan.objects[0].state, ctl("acceptanceLevel")) == at
    assert planner.polled_at(vplan.objects[0].state, ctl("services")) is None


def test_fresh_reads_again_and_a_read_fault_is_that_controllers_only():
    cache = cached_level("host-1", "community", sources.now_utc())
    image = host(**{"configManager.imageConfigManager": SimpleNamespace()})
    vplan = plan([policy("p", {LEVEL: "VMwareAccepted"}, "acceptanceLevel"), policy("s", {SSH: False})], [image],
                 cache=cache, fresh=True)
    (po,) = vplan.objects
    assert set(po.state.faults) == {"acceptanceLevel"}, "no connection: the forced read fails"
    level, ssh = sorted(po.changes, key=lambda c: c.controller)
    assert (level.path, level.reason, level.current) == (LEVEL, None, None)
    assert level.error == level.message and level.message.startswith("could not read acceptanceLevel: ")
    assert (ssh.path, ssh.error, ssh.reason) == (SSH, "", None)


def test_a_prefetch_failure_marks_that_controllers_objects_only():
    vtpm = ("vtpm",)
    vm = ObservedObject("VirtualMachine", "vm-1", "web", {"config.hardware.device": [], "config.firmware": "efi",
                                                          "config.keyId": None, "runtime.powerState": "poweredOff",
                                                          "config.template": False})
    other = ObservedObject("VirtualMachine", "vm-2", "db", dict(vm.props))
    p = policy("v", {vtpm: "required"}, "vmVirtualTPM", "VMSecurityPolicy", {"vms": ["web"]})
    vplan = plan([p, policy("s", {SSH: False})], [vm, other, host()])
    web, esx = vplan.objects
    assert [po.state.ref.name for po in vplan.objects] == ["web", "esx-01"]
    assert type(web.state.faults["vmVirtualTPM"]) is AttributeError and esx.state.faults == {}
    (change,) = web.changes
    assert change.error.startswith("could not read vmVirtualTPM: ") and change.path == vtpm


# -- read faults ---------------------------------------------------------------------------------------------

def planned(controller: str, desired: dict, fault: BaseException | None = None, **state: Any) -> planner.PlannedObject:
    st = ObjectState(ObjectRef("HostSystem", "host-1", "esx-01", "lab"), {}, **state)
    if fault is not None:
        st.faults[controller] = fault
    return planner.PlannedObject(st, {controller: {p: DesiredValue(v, "p", f"p.yaml:{i}", True, 0)
                                                   for i, (p, v) in enumerate(desired.items())}})


def test_an_unsupported_api_is_skipped_as_unsupported_for_every_desired_setting_but_parameters():
    desired = {("lockdown", "mode"): "normal", ("lockdown", "exceptionUsers"): ["a"]}
    po = planned("lockdown", desired, vmodl.fault.NotSupported(msg="no"))
    changes = planner.diff_object(po, [ctl("services"), ctl("lockdown")], [], TODAY)
    po.desired["services"] = {SSH: DesiredValue(False, "s", "s.yaml:1", True, 0)}
    after = planner.diff_object(po, [ctl("lockdown"), ctl("services")], [], TODAY)
    assert [c.controller for c in after] == ["lockdown", "lockdown", "services"], "the next controller is diffed"
    assert [(c.path, c.current, c.desired, c.reason, c.error, c.policy) for c in changes] == [
        (("lockdown", "exceptionUsers"), None, ["a"], Skip.UNSUPPORTED, "", "p"),
        (("lockdown", "mode"), None, "normal", Skip.UNSUPPORTED, "", "p")]
    assert {c.message for c in changes} == {"this target does not offer the API for lockdown (NotSupported)"}


def test_a_parameter_is_not_reported_when_its_section_cannot_be_read():
    fault = EsxcliUnsupported("esxcli system account is not available")
    secret, role = ("localAccounts", "alice", "passwordFile"), ("localAccounts", "alice", "role")
    po = planned("localAccounts", {secret: "/etc/vsr/alice", role: "Admin"}, fault)
    (change,) = planner.diff_object(po, [ctl("localAccounts")], [], TODAY)
    assert (change.path, change.desired, change.reason) == (role, "Admin", Skip.UNSUPPORTED)
    assert change.message == ("this target does not offer the API for localAccounts (EsxcliUnsupported: "
                              "esxcli system account is not available)")


def test_an_unreadable_controller_is_an_error_per_field_and_a_waiver_still_holds():
    po = planned("services", {SSH: False, ("services", "TSM", "running"): False}, RuntimeError("socket closed"))
    waiver = WaiverRule("w", EVERY_HOST, ("services.TSM.*",), (), "r", "o", TODAY)
    tsm, ssh = planner.diff_object(po, [ctl("services")], [waiver], TODAY)
    assert (ssh.path, ssh.reason, ssh.error) == (SSH, None, "could not read services: socket closed")
    assert (tsm.reason, tsm.error, tsm.message) == (Skip.WAIVED, "", waiver.describe())


# -- label ---------------------------------------------------------------------------------------------------

def test_label_copies_the_diff_and_the_policy_bookkeeping():
    st = ObjectState(ObjectRef("HostSystem", "host-1", "esx-01", "lab"), {})
    origin = {SSH: DesiredValue(False, "p", "p.yaml:7", True, 0)}
    d = FieldDiff(SSH, True, False, subject="vmk0", impact=Impact.REBOOT, message="why")
    change = planner.label(st, ctl("services"), d, origin, [], TODAY)
    assert change == Change(st.ref, "services", SSH, True, False, impact=Impact.REBOOT, policy="p",
                            source="p.yaml:7", subject="vmk0", controls=catalog.controls_for("HostSystem", SSH),
                            reason=None, message="why")
    assert change.controls, "the catalog maps the SSH service to controls"
    skipped = planner.label(st, ctl("services"), FieldDiff(SSH, None, False, skip=Skip.UNSUPPORTED), {}, [], TODAY)
    assert (skipped.policy, skipped.source, skipped.reason) == ("", "", Skip.UNSUPPORTED)


def test_a_waiver_for_one_policy_or_for_templates_only_applies_there():
    st = ObjectState(ObjectRef("VirtualMachine", "vm-1", "tpl", "lab"), {}, template=True)
    key = ("advancedSettings", "a.b")
    origin = {key: DesiredValue("TRUE", "p", "p.yaml:7", True, 0)}
    d = FieldDiff(key, None, "TRUE")
    c = ctl("vmAdvancedSettings")
    other = WaiverRule("w", {"vms": ["*"], "templates": True}, ("advancedSettings.*",), ("q",), "r", "o", TODAY)
    assert planner.label(st, c, d, origin, [other], TODAY).reason is None
    mine = WaiverRule("w", {"vms": ["*"], "templates": True}, ("advancedSettings.*",), ("p",), "r", "o", TODAY)
    assert planner.label(st, c, d, origin, [mine], TODAY).reason is Skip.WAIVED
    vms_only = WaiverRule("w", {"vms": ["*"]}, ("advancedSettings.*",), (), "r", "o", TODAY)
    assert planner.label(st, c, d, origin, [vms_only], TODAY).reason is None, "templates need templates: true"


# -- placement, unmanaged, helpers ---------------------------------------------------------------------------

def entity(moid: str, type_: str, name: str, **kw: Any) -> EntityPath:
    return EntityPath(moid, type_, name, None, f"/DC0/{name}", datacenter="DC0", **kw)


def test_a_dv_portgroup_takes_the_datacenter_of_its_network_folder():
    folder = vim.Folder("group-n1")
    pg = ObservedObject("DistributedVirtualPortgroup", "dvpg-1", "pg", {"parent": folder})
    entities = {"group-n1": entity("group-n1", "Folder", "network")}
    assert planner._placement(pg, entities) == planner.Placement(datacenter="DC0")
    assert planner._placement(pg, {}) == planner.Placement()
    esx = host()
    assert planner._placement(esx, {"host-1": entity("host-1", "HostSystem", "esx-01", cluster="C0",
                                                     folders=("host", "f"))}) == planner.Placement(
        datacenter="DC0", cluster="C0", folder="f")


def test_unmanaged_lists_hosts_and_vms_no_policy_of_their_kind_selects():
    entities = {"host-2": entity("host-2", "HostSystem", "esx-02"), "host-1": entity("host-1", "HostSystem", "esx-01"),
                "vm-1": entity("vm-1", "VirtualMachine", "web", template=False),
                "vm-2": entity("vm-2", "VirtualMachine", "tpl", template=True),
                "dc": entity("dc", "Datacenter", "DC0")}
    hosts = policy("h", {SSH: False}, selector={"hosts": ["esx-01"]})
    assert planner.unmanaged(entities, [hosts], "lab") == [
        ObjectRef("HostSystem", "host-2", "esx-02", "lab"), ObjectRef("VirtualMachine", "vm-1", "web", "lab")]
    vms = policy("v", {}, "vmAdvancedSettings", "VMSecurityPolicy", {"vms": ["*"]})
    assert [r.name for r in planner.unmanaged(entities, [vms], "lab")] == ["esx-01", "esx-02"]


def test_plan_helpers():
    po = planned("services", {SSH: False})
    mine = Change(po.state.ref, "services", SSH, True, False)
    po.changes = [mine, mine.with_(reason=Skip.AUDIT), mine.with_(controller="lockdown")]
    assert po.actionable("services") == [mine]
    lock = planned("lockdown", {("lockdown", "mode"): "normal"})
    assert [c.name for c in planner.active_controllers_for([lock, po])] == ["services", "lockdown"]
    assert planner.kinds_of("DistributedVirtualPortgroup") == {"HostSecurityPolicy", "VCenterSecurityPolicy"}
    st = po.state
    planner.record_controller_fault(st, "services", KeyError("x"))
    assert list(st.faults) == ["services"] and isinstance(st.faults["services"], KeyError)


def test_a_dv_portgroup_is_planned_only_when_the_policy_names_it():
    security = vim.dvs.VmwareDistributedVirtualSwitch.SecurityPolicy(allowPromiscuous=vim.BoolPolicy(value=True))
    port = vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(securityPolicy=security)
    pgs = [ObservedObject("DistributedVirtualPortgroup", f"dvpg-{n}", n,
                          {"config.defaultPortConfig": port, "config.uplink": False, "tag": []}) for n in ("b", "a")]
    p = policy("net", {("networkSecurity", "allowPromiscuous"): False, ("networkSecurity", "distributedPortgroups"): ["a"]},
               "dvPortgroupSecurity")
    vplan = plan([p], pgs)
    assert [(c.object.name, c.path, c.current, c.desired) for c in vplan.plan.changes] == [
        ("a", ("networkSecurity", "allowPromiscuous"), True, False)]


@pytest.mark.parametrize("fault", [vmodl.fault.ManagedObjectNotFound(), vmodl.fault.MethodNotFound(),
                                   vmodl.fault.NotSupported(), vmodl.fault.NotImplemented(),
                                   EsxcliUnsupported("gone")], ids=lambda f: type(f).__name__)
def test_each_missing_api_fault_is_unsupported(fault):
    (change,) = planner.diff_object(planned("services", {SSH: False}, fault), [ctl("services")], [], TODAY)
    assert (change.reason, change.error) == (Skip.UNSUPPORTED, "")
    assert change.message.startswith("this target does not offer the API for services (")


def test_a_polled_reader_is_handed_the_objects_desired_values(monkeypatch):
    """The guest-tools reader needs the policy's guest credentials: with them it goes on to read the guest (here
    there is no connection, so that read fails); without them it would report missing credentials instead."""
    monkeypatch.setenv("VSR_TEST_GUEST_PASSWORD", "pw")
    vm = ObservedObject("VirtualMachine", "vm-1", "web", {"runtime.powerState": "poweredOn", "config.template": False,
                                                          "guest.toolsRunningStatus": "guestToolsRunning",
                                                          "guest.guestFamily": "linuxGuest", "config.guestId": "x"})
    creds = {"username": "root", "passwordEnv": "VSR_TEST_GUEST_PASSWORD"}
    p = policy("g", {("guestTools", "credentials"): creds, ("guestTools", "guestOperationsDisabled"): True},
               "vmGuestTools", "VMSecurityPolicy", {"vms": ["*"]})
    (change,) = plan([p], [vm]).plan.changes
    assert change.path == ("guestTools", "guestOperationsDisabled")
    assert change.error.startswith("could not read vmGuestTools: "), change


def test_a_vcenter_policy_selects_switches_by_its_own_rules():
    dvs = ObservedObject("DistributedVirtualSwitch", "dvs-1", "DVS-b", {"config": None})
    field = {("distributedSwitch", "linkDiscoveryOperation"): "none"}
    named = policy("vc", field, "vcenterSwitches", "VCenterSecurityPolicy", {"switches": ["DVS-*"]})
    other = policy("vc", field, "vcenterSwitches", "VCenterSecurityPolicy", {"switches": ["DVS-a"]})
    assert [po.state.ref.name for po in plan([named], [dvs]).objects] == ["DVS-b"]
    assert plan([other], [dvs]).objects == [], "a switch not named in `switches` is not selected"


def test_collect_changes_sorts_the_objects_changes_and_the_conflicts_together():
    a, b = planned("services", {SSH: False}), planned("services", {SSH: False})
    b.state.ref = ObjectRef("HostSystem", "host-2", "esx-02", "lab")
    ca = Change(a.state.ref, "services", SSH, True, False)
    cb = Change(b.state.ref, "services", SSH, True, False)
    conflict = Change(a.state.ref, "lockdown", ("lockdown", "mode"), None, None, reason=Skip.CONFLICT)
    stale = Change(b.state.ref, "services", ("services", "x", "running"), True, False)
    b.changes, a.changes = [cb], [ca]
    vplan = planner.VCenterPlan("lab", FACTS, [b, a], planner.Plan(changes=[stale, conflict]))
    vplan.collect_changes()
    assert vplan.plan.changes == [conflict, ca, cb], "relabelled changes replace the old ones; conflicts stay"
