"""Policy semantics end to end: audit, waivers (active, expired), conflicts, guards, faults, free ESXi, plain vcsim."""

from __future__ import annotations

import datetime as dt

import pytest

from harness import Workspace, host, service
from reconciler.cli import main as vsr_main

pytestmark = pytest.mark.integration

HOST = "DC0_C0_H0"
SSH_ON = 'selector: {hosts: ["*"]}\nservices: {TSM-SSH: {running: false}}\n'


def ssh_running(sim, name=HOST):
    si = sim.connect()
    system = host(si, name).configManager.serviceSystem
    system.StartService(id="TSM-SSH")
    return si


@pytest.fixture
def ws(tmp_path, fresh_sim):
    return Workspace(tmp_path, fresh_sim)


def test_audit_reports_and_changes_nothing(ws, capsys):
    si = ssh_running(ws.sim)
    ws.policy("audit", SSH_ON + "enforcement: Audit\n")
    run = ws.vsr(capsys, "apply")
    assert run.code == 2
    (change,) = run.changes(name=HOST, path="services.TSM-SSH.running")
    assert change["reason"] == "audit" and change["outcome"] == "planned"
    assert service(host(si, HOST), "TSM-SSH").running is True


def test_suspended_policy_is_skipped(ws, capsys):
    ssh_running(ws.sim)
    ws.policy("paused", SSH_ON + "suspend: true\n")
    run = ws.vsr(capsys, "plan")
    assert run.code == 0 and run.json["changes"] == []


def test_active_waiver_counts_as_compliant_and_expired_one_is_enforced(ws, capsys):
    si = ssh_running(ws.sim)
    ws.policy("ssh", SSH_ON)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    ws.write("waiver.yaml", f"""
        apiVersion: vsr.dev/v1alpha1
        kind: Waiver
        metadata: {{name: ssh-debug}}
        spec:
          selector: {{hosts: ["{HOST}"]}}
          fields: ["services.TSM-SSH.*"]
          reason: "vendor debugging, case 42"
          owner: ops@example.com
          expires: {tomorrow.isoformat()}
    """)
    run = ws.vsr(capsys, "apply")
    (waived,) = run.changes(name=HOST, path="services.TSM-SSH.running")
    assert waived["reason"] == "waived" and "ops@example.com" in waived["message"]
    assert service(host(si, HOST), "TSM-SSH").running is True, "waived fields are not changed"
    assert run.code == 0, "waived drift does not count as drift"
    assert [e for e in ws.events("Waived") if e.object.name == HOST]

    yesterday = dt.date.today() - dt.timedelta(days=1)
    (ws.specs / "waiver.yaml").write_text((ws.specs / "waiver.yaml").read_text().replace(
        tomorrow.isoformat(), yesterday.isoformat()))
    run = ws.vsr(capsys, "apply")
    assert run.code == 0 and run.changes(name=HOST, path="services.TSM-SSH.running")[0]["outcome"] == "applied"
    assert service(host(si, HOST), "TSM-SSH").running is False
    assert ws.events("WaiverExpired")


def test_conflict_at_equal_priority_then_resolved_by_priority(ws, capsys):
    """Selectors that overlap only on real objects (a cluster glob and a host glob) pass validation; the clash
    shows at plan time on the objects both select. (Only identical selectors are spec errors: see the api tests.)"""
    ssh_running(ws.sim)
    ws.policy("a", 'selector: {clusters: ["DC0_C0"]}\nservices: {TSM-SSH: {running: false}}\n')
    ws.policy("b", """
        selector: {hosts: ["DC0_C0_H0"]}
        services: {TSM-SSH: {running: true}}
    """)
    run = ws.vsr(capsys, "plan")
    (conflict,) = run.changes(name=HOST, path="services.TSM-SSH.running")
    assert conflict["reason"] == "conflict" and "a (" in conflict["message"] and "b (" in conflict["message"]
    ws.policy("b", """
        selector: {hosts: ["DC0_C0_H0"]}
        priority: 10
        services: {TSM-SSH: {running: true}}
    """)
    run = ws.vsr(capsys, "plan")
    assert not run.changes(name=HOST, path="services.TSM-SSH.running"), "b wins and TSM-SSH is running: compliant"


def test_possible_overlap_is_no_conflict_and_both_policies_are_kept(ws, capsys):
    """Issue 12 item 8: every clustered host vs hosts that may not exist could overlap, but need not. validate
    passes, neither policy is dropped, and the clustered hosts converge (before, both policies were invalid and
    nothing was managed)."""
    si = ssh_running(ws.sim)
    ws.policy("wide", 'selector: {clusters: ["*"]}\nservices: {TSM-SSH: {running: false}}\n')
    ws.policy("odd", 'selector: {hosts: ["no-such-host-*"]}\nservices: {TSM-SSH: {running: true}}\n')
    assert vsr_main(["validate", str(ws.specs)]) == 0, capsys.readouterr()
    run = ws.vsr(capsys, "apply")
    assert run.json["specIssues"] == [] and run.code == 0, run.out
    (fixed,) = run.changes(name=HOST, path="services.TSM-SSH.running")
    assert fixed["outcome"] == "applied" and fixed["policy"] == "wide"
    assert not run.changes(reason="conflict")
    assert service(host(si, HOST), "TSM-SSH").running is False


def test_guard_vpxa_through_vcenter(ws, capsys):
    ws.policy("vpxa", """
        selector: {hosts: ["*"]}
        services: {vpxa: {running: false}}
    """)
    run = ws.vsr(capsys, "apply")
    (blocked,) = run.changes(name=HOST, path="services.vpxa.running")
    assert blocked["reason"] == "guard" and "vCenter manages this host" in blocked["message"]
    assert service(host(ws.sim.connect(), HOST), "vpxa").running is True
    assert [e for e in ws.events("RemediationBlocked") if e.object.name == HOST]


def test_guards_on_a_directly_connected_host(tmp_path, sim_factory, capsys):
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    ws.policy("direct", """
        selector: {hosts: ["*"]}
        lockdown: {mode: normal}
        firewall: {vSphereClient: {allowedIPs: ["192.0.2.0/24"]}, sshServer: {allowedIPs: ["192.0.2.0/24"]}}
    """)
    run = ws.vsr(capsys, "apply")
    (lockdown,) = run.changes(path="lockdown.mode")
    assert lockdown["reason"] == "guard" and "connects directly" in lockdown["message"]
    (client,) = run.changes(path="firewall.vSphereClient.allowedIPs")
    assert client["reason"] == "guard" and "excludes 127.0.0.1" in client["message"]
    (ssh,) = run.changes(path="firewall.sshServer.allowedIPs")
    assert ssh["outcome"] == "applied", "a guard on one field never stops the others"


def test_fault_on_one_host_does_not_stop_the_others(tmp_path, sim_factory, capsys):
    faulty = sim_factory("-fail", "StopService@DC0_C0_H1:1.0:SystemError")
    ws = Workspace(tmp_path, faulty)
    for name in ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"):
        ssh_running(faulty, name)
    ws.policy("ssh", SSH_ON)
    run = ws.vsr(capsys, "apply")
    assert run.code == 1
    outcomes = {c["object"]["name"]: c["outcome"] for c in run.changes(path="services.TSM-SSH.running")}
    assert outcomes == {"DC0_C0_H0": "applied", "DC0_C0_H1": "failed", "DC0_C0_H2": "applied"}
    assert any(p["object"]["name"] == "DC0_C0_H1" for p in run.json["problems"])
    assert [e for e in ws.events("RemediationFailed") if e.object.name == "DC0_C0_H1"]


def test_free_esxi_is_audit_only_with_one_clear_reason(tmp_path, sim_factory, capsys):
    free = sim_factory("-esx", "-restricted", "-drift")
    ws = Workspace(tmp_path, free)
    ws.policy("home", """
        selector: {hosts: ["*"]}
        services: {TSM-SSH: {running: false, policy: "off"}}
        advancedSettings: {Mem.ShareForceSalting: 2}
    """)
    run = ws.vsr(capsys, "apply")
    assert run.code == 2, run.out
    restricted = [c for c in run.json["changes"] if "RestrictedVersion" in (c["message"] or "")]
    assert restricted and all(c["reason"] == "unsupported" and c["outcome"] == "skipped" for c in restricted)
    assert not [c for c in run.json["changes"] if c["outcome"] in ("applied", "failed")]
    notes = [line for line in run.json["notes"] if "RestrictedVersion" in line]
    assert len(notes) == 1, "one clear line per host says why it is audit-only"


def test_plain_vcsim_reports_unsupported_and_does_not_crash(tmp_path, sim_factory, capsys):
    plain = sim_factory("-plain")
    ws = Workspace(tmp_path, plain)
    ws.policy("all", """
        selector: {hosts: ["*"]}
        services: {TSM-SSH: {running: false}}
        lockdown: {mode: normal}
        firewall: {sshServer: {allowedIPs: ["10.0.0.0/8"]}}
        networkSecurity: {allowPromiscuous: false}
    """)
    run = ws.vsr(capsys, "apply")
    assert run.code == 2, run.out  # no problem (nothing raised), but unsupported fields stay drift
    reasons = {c["reason"] for c in run.json["changes"]}
    assert "unsupported" in reasons
    assert [e for e in ws.events("Unsupported")]
