from reconciler.engine.placement import Entity, Placement, placement_of
from reconciler.engine.selection import matches

TREE = {
    "group-d1": Entity("Folder", "Datacenters", None),
    "datacenter-1": Entity("Datacenter", "DC0", "group-d1"),
    "group-h1": Entity("Folder", "host", "datacenter-1"),
    "domain-c1": Entity("ClusterComputeResource", "Prod-A", "group-h1"),
    "host-1": Entity("HostSystem", "esx-01", "domain-c1"),
    "domain-s1": Entity("ComputeResource", "esx-09", "group-h1"),
    "host-9": Entity("HostSystem", "esx-09", "domain-s1"),
    "group-v1": Entity("Folder", "vm", "datacenter-1"),
    "group-v2": Entity("Folder", "Prod", "group-v1"),
    "group-v3": Entity("Folder", "Web", "group-v2"),
    "vm-1": Entity("VirtualMachine", "web-01", "group-v3"),
    "vm-2": Entity("VirtualMachine", "root-vm", "group-v1"),
}


def test_placement_of_clustered_and_standalone_hosts():
    assert placement_of("host-1", TREE) == Placement("DC0", "Prod-A", "esx-01", "")
    assert placement_of("host-9", TREE) == Placement("DC0", None, "esx-09", "")


def test_placement_of_vm_uses_runtime_host_and_folder_path():
    assert placement_of("vm-1", TREE, host_of="host-1") == Placement("DC0", "Prod-A", "esx-01", "Prod/Web")
    assert placement_of("vm-2", TREE, host_of="host-9") == Placement("DC0", None, "esx-09", "")


def test_empty_selector_matches_nothing():
    place = placement_of("host-1", TREE)
    assert not matches({}, "HostSystem", "esx-01", place)
    assert not matches({"datacenters": [], "exclude": ["x"]}, "HostSystem", "esx-01", place)


def test_cluster_glob_does_not_select_standalone_host_but_host_glob_does():
    place = placement_of("host-9", TREE)
    assert not matches({"clusters": ["*"]}, "HostSystem", "esx-09", place)
    assert matches({"hosts": ["*"]}, "HostSystem", "esx-09", place)


def test_all_dimensions_must_match_and_exclude_wins():
    place = placement_of("host-1", TREE)
    assert matches({"datacenters": ["DC*"], "clusters": ["Prod-*"], "hosts": ["esx-0*"]}, "HostSystem", "esx-01", place)
    assert not matches({"datacenters": ["Other"], "hosts": ["*"]}, "HostSystem", "esx-01", place)
    assert not matches({"hosts": ["*"], "exclude": ["esx-01"]}, "HostSystem", "esx-01", place)
    assert not matches({"hosts": ["ESX-01"]}, "HostSystem", "esx-01", place), "globs are case-sensitive"


def test_vm_selection_folders_and_templates():
    place = placement_of("vm-1", TREE, host_of="host-1")
    assert matches({"folders": ["Prod/*"]}, "VirtualMachine", "web-01", place)
    assert not matches({"folders": ["Dev/*"]}, "VirtualMachine", "web-01", place)
    assert matches({"vms": ["*"]}, "VirtualMachine", "web-01", place)
    assert not matches({"vms": ["*"]}, "VirtualMachine", "web-01", place, is_template=True)
    assert matches({"vms": ["*"], "templates": True}, "VirtualMachine", "web-01", place, is_template=True)


def test_vm_dimensions_never_select_hosts():
    place = placement_of("host-1", TREE)
    assert not matches({"vms": ["*"]}, "HostSystem", "esx-01", place)


def test_dv_portgroups_are_narrowed_by_datacenter_only():
    place = Placement("DC0")
    assert matches({"hosts": ["esx-01"]}, "DistributedVirtualPortgroup", "DVPG-1", place)
    assert matches({"datacenters": ["DC0"]}, "DistributedVirtualPortgroup", "DVPG-1", place)
    assert not matches({"datacenters": ["DC1"]}, "DistributedVirtualPortgroup", "DVPG-1", place)
