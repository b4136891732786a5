from reconciler.engine.placement import Placement, from_entity
from reconciler.engine.selection import matches, matches_vcenter

HOST1 = Placement("DC0", "Prod-A", "esx-01", "")
HOST9 = Placement("DC0", None, "esx-09", "")
VM1 = Placement("DC0", "Prod-A", "esx-01", "Prod/Web")


def test_placement_from_entity_drops_the_datacenter_root_folder():
    class E:
        datacenter, cluster, host, folders = "DC0", "Prod-A", "esx-01", ("vm", "Prod", "Web")
    assert from_entity(E()) == VM1


def test_empty_selector_matches_nothing():
    place = HOST1
    assert not matches({}, "HostSystem", "esx-01", place)
    assert not matches({"datacenters": [], "exclude": ["x"]}, "HostSystem", "esx-01", place)


def test_cluster_glob_does_not_select_standalone_host_but_host_glob_does():
    place = HOST9
    assert not matches({"clusters": ["*"]}, "HostSystem", "esx-09", place)
    assert matches({"hosts": ["*"]}, "HostSystem", "esx-09", place)


def test_all_dimensions_must_match_and_exclude_wins():
    place = HOST1
    assert matches({"datacenters": ["DC*"], "clusters": ["Prod-*"], "hosts": ["esx-0*"]}, "HostSystem", "esx-01", place)
    assert not matches({"datacenters": ["Other"], "hosts": ["*"]}, "HostSystem", "esx-01", place)
    assert not matches({"hosts": ["*"], "exclude": ["esx-01"]}, "HostSystem", "esx-01", place)
    assert not matches({"hosts": ["ESX-01"]}, "HostSystem", "esx-01", place), "globs are case-sensitive"


def test_vm_selection_folders_and_templates():
    place = VM1
    assert matches({"folders": ["Prod/*"]}, "VirtualMachine", "web-01", place)
    assert not matches({"folders": ["Dev/*"]}, "VirtualMachine", "web-01", place)
    assert matches({"vms": ["*"]}, "VirtualMachine", "web-01", place)
    assert not matches({"vms": ["*"]}, "VirtualMachine", "web-01", place, is_template=True)
    assert matches({"vms": ["*"], "templates": True}, "VirtualMachine", "web-01", place, is_template=True)


def test_vm_dimensions_never_select_hosts():
    place = HOST1
    assert not matches({"vms": ["*"]}, "HostSystem", "esx-01", place)


def test_dv_portgroups_are_narrowed_by_datacenter_only():
    place = Placement("DC0")
    assert matches({"hosts": ["esx-01"]}, "DistributedVirtualPortgroup", "DVPG-1", place)
    assert matches({"datacenters": ["DC0"]}, "DistributedVirtualPortgroup", "DVPG-1", place)
    assert not matches({"datacenters": ["DC1"]}, "DistributedVirtualPortgroup", "DVPG-1", place)


def test_vcenter_switches_narrow_portgroups_to_their_switch():
    pg = Placement("DC0", switch="lab-dvs")
    assert matches_vcenter({"portgroups": ["*"]}, "DistributedVirtualPortgroup", "lab-pg", pg)
    assert matches_vcenter({"portgroups": ["*"], "switches": ["lab-*"]}, "DistributedVirtualPortgroup", "lab-pg", pg)
    assert not matches_vcenter({"portgroups": ["*"], "switches": ["DVS0"]}, "DistributedVirtualPortgroup", "lab-pg", pg)
    assert matches_vcenter({"portgroups": ["*"], "switches": []}, "DistributedVirtualPortgroup", "lab-pg", pg)
    # a portgroup whose switch is unknown is not matched by a non-empty `switches`
    assert not matches_vcenter({"portgroups": ["*"], "switches": ["*"]}, "DistributedVirtualPortgroup", "pg",
                               Placement("DC0"))


def test_vcenter_switch_selection_is_unaffected_by_portgroups():
    sw = Placement("DC0")
    assert matches_vcenter({"switches": ["lab-*"]}, "DistributedVirtualSwitch", "lab-dvs", sw)
    assert not matches_vcenter({"switches": ["lab-*"], "exclude": ["lab-dvs"]}, "DistributedVirtualSwitch", "lab-dvs", sw)
    assert not matches_vcenter({"switches": ["lab-*"], "datacenters": ["DC1"]}, "DistributedVirtualSwitch", "lab-dvs", sw)
    assert matches_vcenter({}, "OptionManager", "vpxd", sw)  # the vCenter's own objects always
