"""Rolling maintenance's pure parts: which hosts go through a window (reconciler.engine.rolling) and the
evacuation pre-check (reconciler.vsphere.maintenance.precheck)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.controllers.contract import REMEDIATION, Impact, ObjectState, Skip
from reconciler.engine import rolling
from reconciler.engine.planner import PlannedObject
from reconciler.engine.types import Change, DesiredValue
from reconciler.events.model import ObjectRef
from reconciler.vsphere.maintenance import ClusterFacts, HostFacts, cluster_facts, precheck

REF = ObjectRef("HostSystem", "host-1", "esx-01", "lab")
TLS = ("tls", "profile")


def po(remediation: dict[str, Any] | None, impact: Impact = Impact.REBOOT, reason: Skip | None = None) -> PlannedObject:
    desired = {TLS: DesiredValue("NIST_2024", "p", "p.yaml:3")}
    if remediation is not None:
        desired[REMEDIATION] = DesiredValue(remediation, "p", "p.yaml:4")
    change = Change(REF, "host_tls", TLS, "COMPATIBLE", "NIST_2024", impact=impact, reason=reason)
    return PlannedObject(ObjectState(REF, {}), {"host_tls": desired}, [change])


@pytest.mark.parametrize("remediation,expected", [
    (None, False),
    ({"reboot": "Allowed"}, False),
    ({"maintenanceMode": "Allowed"}, False),
    ({"reboot": "Allowed", "maintenanceMode": "Never"}, False),
    ({"reboot": "Allowed", "maintenanceMode": "Allowed"}, True),
])
def test_a_window_needs_both_maintenance_mode_and_reboot_allowed(remediation, expected):
    assert rolling.allowed(po(remediation)) is expected


def test_only_actionable_reboot_changes_put_a_host_in_a_window():
    both = {"reboot": "Allowed", "maintenanceMode": "Allowed", "maxHostsInParallel": 3}
    assert rolling.window_changes(po(both)) != []
    assert rolling.window_changes(po(both, impact=Impact.NONE)) == []
    assert rolling.window_changes(po(both, reason=Skip.PENDING_REBOOT)) == []
    assert rolling.parallel(po(both)) == 3
    assert rolling.parallel(po({"reboot": "Allowed", "maintenanceMode": "Allowed"})) == 1


def facts(*hosts: HostFacts) -> dict[str, HostFacts]:
    return {h.moid: h for h in hosts}


def h(moid: str, cluster: str | None = "c1", connected: bool = True, mm: bool = False, vms: int = 0) -> HostFacts:
    return HostFacts(moid, moid, cluster, connected, mm, vms)


def test_precheck_needs_another_available_host_of_the_cluster_for_running_vms():
    assert precheck("a", facts(h("a", vms=2), h("b"))).ok
    assert precheck("a", facts(h("a", vms=0))).ok                      # nothing to move
    for other in (h("b", mm=True), h("b", connected=False), h("b", cluster="c2")):
        got = precheck("a", facts(h("a", vms=2), other))
        assert not got.ok and "cannot be evacuated" in got.reason, other
    standalone = precheck("a", facts(h("a", cluster=None, vms=1), h("b", cluster=None)))
    assert not standalone.ok and "standalone" in standalone.reason
    assert not precheck("a", facts(h("a", connected=False))).ok
    assert not precheck("x", facts(h("a"))).ok


def in_cluster(moid: str, cf: ClusterFacts, vms: int = 0, mm: bool = False) -> HostFacts:
    return HostFacts(moid, moid, "c1", True, mm, vms, cf)


@pytest.mark.parametrize("mode, ok", [("fullyAutomated", True), ("partiallyAutomated", False), ("manual", False),
                                      ("off", False)])
def test_precheck_needs_fully_automated_drs_to_evacuate(mode, ok):
    cf = ClusterFacts("Prod", mode)
    got = precheck("a", facts(in_cluster("a", cf, vms=2), in_cluster("b", cf)))
    assert got.ok is ok, got
    if not ok:
        assert f"DRS on cluster Prod is {mode}" in got.reason
    assert precheck("a", facts(in_cluster("a", cf), in_cluster("b", cf))).ok  # nothing to move: DRS irrelevant


def test_precheck_keeps_more_hosts_than_the_ha_failover_level_while_the_cluster_runs_vms():
    def cluster(level: int, vms_elsewhere: int = 2, b_in_mm: bool = False) -> dict[str, HostFacts]:
        cf = ClusterFacts("Prod", "fullyAutomated", ha_failover_level=level)
        return facts(in_cluster("a", cf), in_cluster("b", cf, vms_elsewhere, mm=b_in_mm), in_cluster("c", cf),
                     in_cluster("d", cf))
    assert precheck("a", cluster(2)).ok                       # 3 left > 2
    refused = precheck("a", cluster(3))
    assert not refused.ok and "tolerates 3 host failure(s): 3 other host(s) would be left" in refused.reason
    assert not precheck("a", cluster(2, b_in_mm=True)).ok     # b already away: 2 left
    assert precheck("a", cluster(3, vms_elsewhere=0)).ok       # no VM to protect
    other = ClusterFacts("Prod", "fullyAutomated", ha_other_policy="FailoverResourcesAdmissionControlPolicy")
    got = precheck("a", facts(in_cluster("a", other), in_cluster("b", other)))
    assert got.ok and "FailoverResourcesAdmissionControlPolicy is not judged" in got.reason


def test_cluster_facts_read_drs_and_ha_from_the_cluster_configuration():
    from pyVmomi import vim
    cfg = vim.cluster.ConfigInfoEx(drsConfig=vim.cluster.DrsConfigInfo(enabled=True),
                                   dasConfig=vim.cluster.DasConfigInfo(
                                       enabled=True, admissionControlEnabled=True,
                                       admissionControlPolicy=vim.cluster.FailoverLevelAdmissionControlPolicy(failoverLevel=1)))
    assert cluster_facts("Prod", cfg) == ClusterFacts("Prod", "fullyAutomated", 1, None)
    cfg.drsConfig = vim.cluster.DrsConfigInfo(enabled=True, defaultVmBehavior="manual")
    cfg.dasConfig.admissionControlEnabled = False
    assert cluster_facts("Prod", cfg) == ClusterFacts("Prod", "manual", None, None)
    cfg.drsConfig.enabled = False
    cfg.dasConfig = vim.cluster.DasConfigInfo(enabled=True, admissionControlEnabled=True,
                                              admissionControlPolicy=vim.cluster.FailoverResourcesAdmissionControlPolicy())
    assert cluster_facts("Prod", cfg) == ClusterFacts("Prod", "off", None, "FailoverResourcesAdmissionControlPolicy")
    assert cluster_facts("Prod", None).drs == "off"
