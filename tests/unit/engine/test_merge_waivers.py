import datetime as dt

from reconciler.engine.merge import merge
from reconciler.engine.placement import Placement
from reconciler.engine.types import DesiredValue
from reconciler.engine import waivers

P = ("services", "TSM-SSH", "running")


def dv(value, policy, priority=0):
    return DesiredValue(value, policy, f"{policy}.yaml:3", True, priority)


def test_higher_priority_wins_regardless_of_order():
    for order in ([dv(True, "a", 0), dv(False, "b", 5)], [dv(False, "b", 5), dv(True, "a", 0)]):
        winners, conflicts = merge([{P: v} for v in order])
        assert winners[P].policy == "b" and winners[P].value is False and not conflicts


def test_equal_priority_disagreement_is_a_conflict_and_unmanaged():
    winners, conflicts = merge([{P: dv(True, "a")}, {P: dv(False, "b")}])
    assert P not in winners
    assert len(conflicts) == 1 and "a (a.yaml:3)" in conflicts[0].message and "b (b.yaml:3)" in conflicts[0].message


def test_equal_priority_agreement_is_fine_lists_as_sets():
    path = ("lockdown", "exceptionUsers")
    winners, conflicts = merge([{path: dv(["x", "y"], "a")}, {path: dv(["y", "x"], "b")}])
    assert not conflicts and winners[path].policy == "a"


def test_conflict_resolved_by_a_later_higher_priority_policy():
    winners, conflicts = merge([{P: dv(True, "a")}, {P: dv(False, "b")}, {P: dv(False, "c", 1)}])
    assert not conflicts and winners[P].policy == "c"


def test_true_and_one_are_not_the_same_value():
    _, conflicts = merge([{P: dv(True, "a")}, {P: dv(1, "b")}])
    assert conflicts


def test_waiver_expiry_selector_and_policy_scope():
    rule = waivers.from_spec("w", {"selector": {"hosts": ["esx-03"]}, "fields": ["networkSecurity.allowPromiscuous"],
                                   "reason": "IDS", "owner": "netops", "expires": "2027-03-31",
                                   "policies": ["baseline"]})
    place = Placement("DC0", "C", "esx-03")
    path = ("networkSecurity", "allowPromiscuous")
    before, after = dt.date(2027, 3, 31), dt.date(2027, 4, 1)
    assert waivers.find([rule], before, "HostSystem", "esx-03", place, path, "baseline") is rule
    assert waivers.find([rule], after, "HostSystem", "esx-03", place, path, "baseline") is None
    assert waivers.find([rule], before, "HostSystem", "esx-04", place, path, "baseline") is None
    assert waivers.find([rule], before, "HostSystem", "esx-03", place, path, "other") is None
    assert waivers.find([rule], before, "HostSystem", "esx-03", place, ("networkSecurity", "macChanges"), "baseline") is None
    assert "until 2027-03-31 (netops): IDS" in rule.describe()


def test_waiver_on_hosts_never_leaks_onto_dv_portgroups():
    path = ("networkSecurity", "allowPromiscuous")
    today = dt.date(2027, 1, 1)
    by_host = waivers.from_spec("h", {"selector": {"hosts": ["esx-03"]}, "fields": ["networkSecurity.*"],
                                      "reason": "r", "owner": "o", "expires": "2027-03-31"})
    by_dc = waivers.from_spec("d", {"selector": {"datacenters": ["DC0"], "exclude": ["Prod-*"]},
                                    "fields": ["networkSecurity.*"], "reason": "r", "owner": "o",
                                    "expires": "2027-03-31"})
    pg = Placement("DC0")
    assert waivers.find([by_host], today, "DistributedVirtualPortgroup", "Capture", pg, path, "p") is None
    assert waivers.find([by_dc], today, "DistributedVirtualPortgroup", "Capture", pg, path, "p") is by_dc
    assert waivers.find([by_dc], today, "DistributedVirtualPortgroup", "Prod-1", pg, path, "p") is None
    assert waivers.find([by_dc], today, "DistributedVirtualPortgroup", "Capture", Placement("DC1"), path, "p") is None
