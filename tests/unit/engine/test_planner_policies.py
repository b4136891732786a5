"""The planner on pre-fetched objects (reconciler.engine.planner.plan_objects) and policy compilation
(reconciler.engine.policies): suspended policies beside active ones, Audit, priorities, connection state."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from reconciler.api import load_text
from reconciler.controllers.contract import ConnectionFacts, Skip
from reconciler.engine import planner
from reconciler.engine.policies import (
    CompiledPolicy,
    compile_documents,
    compile_policy,
    policies_for,
)
from reconciler.engine.types import DesiredValue, Outcome
from reconciler.engine.waivers import WaiverRule
from reconciler.vsphere.inventory import ObservedObject

TODAY = dt.date(2026, 11, 22)
VCENTER = ConnectionFacts("lab", True, "administrator@vsphere.local", None)
SSH_RUNNING = ("services", "TSM-SSH", "running")
SSH_POLICY = ("services", "TSM-SSH", "policy")
EVERY_HOST = {"hosts": ["*"]}


def svc(key: str, running: bool, policy: str = "off") -> SimpleNamespace:
    return SimpleNamespace(key=key, running=running, policy=policy)


def host(name: str = "esx-01", moid: str = "host-1", state: str = "connected", ssh_running: bool = True,
         ssh_policy: str = "on") -> ObservedObject:
    props = {"runtime.connectionState": state,
             "config.service": SimpleNamespace(service=[svc("TSM-SSH", ssh_running, ssh_policy)]),
             "summary.managementServerIp": "10.0.0.1"}
    return ObservedObject("HostSystem", moid, name, props)


def policy(name: str, fields: dict[tuple[str, ...], Any], controller: str = "services", suspended: bool = False,
           enforce: bool = True, priority: int = 0, selector: dict | None = None) -> CompiledPolicy:
    source = f"{name}.yaml:1"
    return CompiledPolicy(
        "HostSecurityPolicy", name, None, selector or EVERY_HOST, enforce, suspended, priority, source,
        {controller: {p: DesiredValue(v, name, source, enforce, priority) for p, v in fields.items()}})


def plan(policies: list[CompiledPolicy], *objects: ObservedObject, waivers: list[WaiverRule] | None = None):
    return planner.plan_objects(None, VCENTER, policies, waivers or [], {o.moid: o for o in objects}, {}, TODAY)


def summary(vplan) -> list[tuple]:
    return [(c.object.name, c.path, c.current, c.desired, c.policy, c.reason) for c in vplan.plan.changes]


def test_a_suspended_policy_beside_an_active_one_on_the_same_controller_contributes_nothing():
    active = policy("ssh-off", {SSH_RUNNING: False})
    paused = policy("ssh-on", {SSH_RUNNING: True, SSH_POLICY: "automatic"}, suspended=True)
    vplan = plan([active, paused], host())
    # no conflict with the suspended policy's `running: true`, and its `policy` field is not managed
    assert summary(vplan) == [("esx-01", SSH_RUNNING, True, False, "ssh-off", None)]
    assert vplan.plan.notes == ["policy ssh-on is suspended"]
    (po,) = vplan.objects
    assert set(po.desired) == {"services"} and set(po.desired["services"]) == {SSH_RUNNING}
    assert po.desired["services"][SSH_RUNNING].policy == "ssh-off"


def test_a_suspended_policy_at_higher_priority_does_not_win():
    active = policy("ssh-off", {SSH_RUNNING: False})
    paused = policy("ssh-on", {SSH_RUNNING: True}, suspended=True, priority=10)
    assert summary(plan([paused, active], host())) == [("esx-01", SSH_RUNNING, True, False, "ssh-off", None)]


def test_a_controller_only_a_suspended_policy_uses_is_not_active():
    active = policy("ssh-off", {SSH_RUNNING: False})
    paused = policy("fw", {("firewall", "sshServer", "enabled"): False}, controller="firewall", suspended=True)
    assert [c.name for c in planner.active_controllers([active, paused])] == ["services"]
    vplan = plan([active, paused], host())
    assert [c.controller for c in vplan.plan.changes] == ["services"]
    assert set(vplan.objects[0].desired) == {"services"}


def test_only_suspended_policies_plan_nothing():
    paused = policy("ssh-on", {SSH_RUNNING: False}, suspended=True)
    vplan = plan([paused], host())
    assert (vplan.plan.changes, vplan.objects, vplan.plan.objects_checked) == ([], [], 0)
    assert planner.active_controllers([paused]) == []


def test_equal_priority_disagreement_is_a_conflict_and_not_managed():
    a, b = policy("a", {SSH_RUNNING: False}), policy("b", {SSH_RUNNING: True})
    vplan = plan([a, b], host())
    (conflict,) = vplan.plan.changes
    assert (conflict.reason, conflict.policy, conflict.path, conflict.source) == (Skip.CONFLICT, "a, b", SSH_RUNNING,
                                                                                  "a.yaml:1")
    assert conflict.message == ("policies at equal priority 0 disagree: a (a.yaml:1) wants False, "
                                "b (b.yaml:1) wants True")
    assert vplan.objects == [], "nothing else is desired on the host"


def test_audit_policy_labels_and_waiver_wins_over_audit():
    audit = policy("audit", {SSH_RUNNING: False}, enforce=False)
    (change,) = plan([audit], host()).plan.changes
    assert (change.reason, change.message, change.outcome) == (Skip.AUDIT, "policy enforcement is Audit",
                                                               Outcome.PLANNED)
    waiver = WaiverRule("w", EVERY_HOST, ("services.TSM-SSH.*",), (), "case 42", "ops@example.com", TODAY)
    (change,) = plan([audit], host(), waivers=[waiver]).plan.changes
    assert change.reason is Skip.WAIVED
    assert change.message == "waived by w until 2026-11-22 (ops@example.com): case 42"
    expired = WaiverRule("w", EVERY_HOST, ("services.TSM-SSH.*",), (), "r", "o", TODAY - dt.timedelta(days=1))
    (change,) = plan([policy("p", {SSH_RUNNING: False})], host(), waivers=[expired]).plan.changes
    assert change.reason is None and change.actionable


def test_a_disconnected_host_is_a_problem_not_a_plan():
    vplan = plan([policy("p", {SSH_RUNNING: False})], host(state="disconnected"), host("esx-02", "host-2"))
    (problem,) = vplan.plan.problems
    assert (problem.object.name, problem.message) == ("esx-01", "host is disconnected; skipped")
    assert [c.object.name for c in vplan.plan.changes] == ["esx-02"]
    assert vplan.plan.objects_checked == 1 and vplan.plan.exit_code() == 1


def test_selector_and_exclude_choose_the_hosts():
    p = policy("p", {SSH_RUNNING: False}, selector={"hosts": ["esx-0*"], "exclude": ["esx-02"]})
    vplan = plan([p], host(), host("esx-02", "host-2"), host("web-01", "host-3"))
    assert [c.object.name for c in vplan.plan.changes] == ["esx-01"]


def test_a_compliant_host_is_checked_and_has_no_change():
    vplan = plan([policy("p", {SSH_RUNNING: True})], host())
    assert vplan.plan.changes == [] and vplan.plan.objects_checked == 1 and vplan.plan.exit_code() == 0


def test_changes_are_sorted_by_object_then_path():
    p = policy("p", {SSH_RUNNING: False, SSH_POLICY: "off"})
    vplan = plan([p], host("esx-02", "host-2"), host("esx-01", "host-1"))
    assert [(c.object.name, c.path[2]) for c in vplan.plan.changes] == [
        ("esx-01", "policy"), ("esx-01", "running"), ("esx-02", "policy"), ("esx-02", "running")]


# -- compiling documents -------------------------------------------------------------------------------------------

DOCS = """apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: ssh-off}
spec:
  selector: {hosts: ["*"]}
  priority: 3
  services:
    TSM-SSH: {running: false}
---
apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: paused}
spec:
  vcenter: lab
  selector: {clusters: ["Prod"]}
  enforcement: Audit
  suspend: true
  lockdown: {mode: normal}
---
apiVersion: vsr.dev/v1alpha1
kind: Waiver
metadata: {name: w}
spec:
  selector: {hosts: ["esx-01"]}
  fields: ["services.*"]
  reason: debugging
  owner: ops@example.com
  expires: 2026-11-22
---
apiVersion: vsr.dev/v1alpha1
kind: VCenter
metadata: {name: lab}
spec:
  server: vcsa.lab.example
  credentials: {usernameEnv: VSR_USERNAME, passwordFile: /etc/vsr/password}
"""


def test_compile_documents_reads_suspend_enforcement_priority_and_sources():
    loaded = load_text(DOCS, "specs.yaml", today=TODAY)
    assert loaded.ok, loaded.issues
    specs = compile_documents(loaded.documents, TODAY)
    ssh, paused = specs.policies
    assert (ssh.name, ssh.suspended, ssh.enforce, ssh.priority, ssh.vcenter, ssh.source) == (
        "ssh-off", False, True, 3, None, "specs.yaml:1")
    assert (paused.suspended, paused.enforce, paused.priority, paused.vcenter) == (True, False, 0, "lab")
    assert ssh.selector == {"hosts": ["*"]}
    assert set(ssh.fields) == {"services"}
    (value,) = ssh.fields["services"].values()
    assert (value.value, value.policy, value.source, value.enforce, value.priority) == (
        False, "ssh-off", "specs.yaml:8", True, 3)
    assert paused.fields["lockdown"][("lockdown", "mode")].enforce is False
    (waiver,) = specs.waivers
    assert (waiver.name, waiver.fields, waiver.expires, waiver.source) == (
        "w", ("services.*",), TODAY, "specs.yaml:20")
    assert specs.expired == [] and list(specs.vcenters) == ["lab"]
    later = compile_documents(loaded.documents, TODAY + dt.timedelta(days=1))
    assert later.waivers == [] and [w.name for w in later.expired] == ["w"]


def test_policies_for_a_vcenter():
    loaded = load_text(DOCS, "specs.yaml", today=TODAY)
    specs = compile_documents(loaded.documents, TODAY)
    assert [p.name for p in policies_for(specs, "lab")] == ["ssh-off", "paused"], "one connection: unnamed too"
    assert [p.name for p in policies_for(specs, "other")] == ["ssh-off"]
    specs.vcenters = {"lab": object(), "other": object()}
    assert [p.name for p in policies_for(specs, "lab")] == ["paused"], "several: only those naming it"
    assert policies_for(specs, "other") == []


def test_compile_policy_without_the_controllers_section_has_no_fields():
    loaded = load_text(DOCS, "specs.yaml", today=TODAY)
    compiled = compile_policy(loaded.documents[0], registry=[])
    assert compiled.fields == {}
