"""Merge and waiver details that the mutation check (scripts/mutation.py) showed untested: value identity in
merges, waivers on templates and DV portgroups, defaults of a waiver read from a spec."""

from __future__ import annotations

import datetime as dt

from reconciler.engine import waivers
from reconciler.engine.merge import merge
from reconciler.engine.placement import Placement
from reconciler.engine.types import DesiredValue

TODAY = dt.date(2026, 11, 22)
PATH = ("services", "TSM-SSH", "running")


def dv(value, policy="a", priority=0) -> DesiredValue:
    return DesiredValue(value, policy, f"{policy}.yaml:1", True, priority)


def test_equal_values_of_the_same_type_agree():
    for value in (1, "on", False, 2.5):
        merged, conflicts = merge([{PATH: dv(value, "a")}, {PATH: dv(value, "b")}])
        assert conflicts == [] and merged[PATH].value == value and merged[PATH].policy == "a", value


def test_a_list_and_a_string_that_print_alike_disagree():
    merged, conflicts = merge([{PATH: dv(["a"], "a")}, {PATH: dv("a", "b")}])
    assert merged == {} and [c.path for c in conflicts] == [PATH]
    merged, conflicts = merge([{PATH: dv("a", "a")}, {PATH: dv(["a"], "b")}])
    assert merged == {} and len(conflicts) == 1
    merged, conflicts = merge([{PATH: dv(True, "a")}, {PATH: dv(1, "b")}])
    assert merged == {} and len(conflicts) == 1, "True is not 1 for a setting"
    merged, conflicts = merge([{PATH: dv(["b", "a"], "a")}, {PATH: dv(["a", "b"], "b")}])
    assert conflicts == [] and merged[PATH].value == ["b", "a"], "lists agree in any order"


def rule(selector, fields=("services.*",), policies=()) -> waivers.WaiverRule:
    return waivers.WaiverRule("w", selector, tuple(fields), tuple(policies), "r", "o", TODAY)


def test_waivers_on_templates_follow_the_selectors_templates_flag():
    vms, place = rule({"vms": ["tpl-*"]}), Placement("DC0", "C0", "esx-01")
    with_templates = rule({"vms": ["tpl-*"], "templates": True})
    assert waivers.find([vms], TODAY, "VirtualMachine", "tpl-1", place, PATH, "p") is vms, "default: not a template"
    assert vms.covers("VirtualMachine", "tpl-1", place, PATH, "p") is True
    assert waivers.find([vms], TODAY, "VirtualMachine", "tpl-1", place, PATH, "p", True) is None
    assert vms.covers("VirtualMachine", "tpl-1", place, PATH, "p", True) is False
    assert waivers.find([with_templates], TODAY, "VirtualMachine", "tpl-1", place, PATH, "p", True) is with_templates


def test_waivers_on_dv_portgroups_need_a_datacenter_and_nothing_else():
    place, pg = Placement("DC0"), "DC0_DVPG0"
    covers = lambda selector: rule(selector).covers("DistributedVirtualPortgroup", pg, place, PATH, "p")  # noqa: E731
    assert covers({"datacenters": ["DC0"]}) is True
    assert covers({"datacenters": ["DC1"]}) is False
    assert covers({"hosts": ["*"]}) is False, "no datacenter named"
    assert covers({"datacenters": ["DC0"], "clusters": ["C0"]}) is False, "portgroups belong to no cluster"
    assert covers({"datacenters": ["DC0"], "vms": ["x"]}) is False
    assert covers({"datacenters": ["DC0"], "exclude": ["DC0_DVPG0"]}) is False
    assert covers({"datacenters": ["DC0"], "exclude": ["DC0_DVPG1"]}) is True


def test_waiver_policies_and_fields_narrow_it():
    place = Placement("DC0", "C0", "esx-01")
    only_a = rule({"hosts": ["*"]}, policies=["a"])
    assert only_a.covers("HostSystem", "esx-01", place, PATH, "a") is True
    assert only_a.covers("HostSystem", "esx-01", place, PATH, "b") is False
    assert rule({"hosts": ["*"]}, fields=["lockdown.*"]).covers("HostSystem", "esx-01", place, PATH, "a") is False


def test_waiver_from_spec_defaults_and_keeps_name_and_source():
    w = waivers.from_spec("debug", {"selector": {"hosts": ["esx-01"]}, "fields": ["services.*"],
                                    "expires": "2026-11-22"}, "w.yaml:4")
    assert (w.name, w.source, w.reason, w.owner, w.policies, w.expires) == (
        "debug", "w.yaml:4", "", "", (), TODAY)
    assert waivers.from_spec("x", {"expires": TODAY}).source == ""
    assert waivers.from_spec("x", {"expires": TODAY}).selector == {} and waivers.from_spec(
        "x", {"expires": TODAY}).fields == ()
    assert w.active(TODAY) and not w.active(TODAY + dt.timedelta(days=1))
