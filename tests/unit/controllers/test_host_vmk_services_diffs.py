"""vmkServices: the pure diff of VMkernel NIC services and the management guard."""

from __future__ import annotations

from types import SimpleNamespace as NS

from reconciler.controllers.contract import ConnectionFacts, FieldDiff, ObjectRef, ObjectState, Skip
from reconciler.controllers.host_vmk_services import HostVmkServices


def net_config(nic_type, selected, devices=("vmk0", "vmk1")):
    return NS(nicType=nic_type, candidateVnic=[NS(key=f"{nic_type}.key-vim.host.VirtualNic-{d}", device=d)
                                               for d in devices],
              selectedVnic=[f"{nic_type}.key-vim.host.VirtualNic-{d}" for d in selected])


STATE = ObjectState(ObjectRef("HostSystem", "host-1", "h", "vc"), {"config.virtualNicManagerInfo": NS(netConfig=[
    net_config("management", ["vmk0"]), net_config("vmotion", ["vmk0", "vmk1"]), net_config("vsan", [])])})


def test_diff_compares_sets_and_flags_unknown_vmks_and_services():
    diffs = HostVmkServices().diff({("vmkServices", "management"): ["vmk0"], ("vmkServices", "vmotion"): ["vmk1"],
                                    ("vmkServices", "vsan"): ["vmk9"], ("vmkServices", "nvmeTcp"): []}, STATE)
    assert [(d.path[1], d.current, d.desired, d.skip) for d in diffs] == [
        ("nvmeTcp", None, [], Skip.UNSUPPORTED), ("vmotion", ["vmk0", "vmk1"], ["vmk1"], None),
        ("vsan", [], ["vmk9"], Skip.INVALID)]


def test_guard_keeps_one_current_management_vmk():
    facts = ConnectionFacts("vc", True, "u", None)
    guard = HostVmkServices().guard
    path = ("vmkServices", "management")
    assert "vmk0" in guard(FieldDiff(path, ["vmk0"], ["vmk1"]), {}, STATE, facts)
    assert guard(FieldDiff(path, ["vmk0"], ["vmk0", "vmk1"]), {}, STATE, facts) is None
    assert guard(FieldDiff(("vmkServices", "vmotion"), ["vmk0"], []), {}, STATE, facts) is None


def test_merged_policies_cannot_put_a_service_on_the_management_vmk():
    diffs = HostVmkServices().diff({("vmkServices", "management"): ["vmk0"], ("vmkServices", "vmotion"): ["vmk0"],
                                    ("vmkServices", "vsan"): ["vmk1"]}, STATE)
    by = {d.path[1]: d for d in diffs}
    assert by["vmotion"].skip is Skip.INVALID and "vmk0 would carry both vmotion and management" in by["vmotion"].message
    assert by["vsan"].skip is None  # vSAN on vmk1 shares with neither management nor vMotion


def test_vmotion_and_storage_on_one_vmk_refused_and_unrelated_services_may_share():
    from reconciler.controllers.host_vmk_services import shared_with_management
    desired = {("vmkServices", "vmotion"): ["vmk1"], ("vmkServices", "vsan"): ["vmk1"],
               ("vmkServices", "vSphereReplication"): ["vmk1"]}
    assert "vmotion and vsan" in shared_with_management(desired, "vmotion")
    assert shared_with_management({("vmkServices", "vSphereReplication"): ["vmk1"],
                                   ("vmkServices", "vSphereProvisioning"): ["vmk1"]}, "vSphereReplication") == ""
