"""Every way we know to get around a lock-out guard, end to end against the simulator (issue 12 items 1-3, issue 21).

Each case runs `vsr apply` and then reads the host back through pyVmomi: it must be unchanged, and the refused
change must carry reason `guard` with its message. Guards judge the effective end state (a waived or Audit-held
value is not applied, so it cannot admit vsr), match exception users by ESXi's rules, and the order of the
vSphere calls leaves a safe host when the first call fails (checked with the simulator's `-fail` injection).
"""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from harness import Workspace, host, ruleset, service
from reconciler.api import load_specs
from reconciler.engine import executor, planner, recording
from reconciler.engine.policies import compile_documents
from reconciler.engine.runner import facts_of
from reconciler.controllers.contract import Skip
from reconciler.engine.types import Outcome
from reconciler.vsphere.connection import Connection
from reconciler.vsphere.settings import settings_from_spec

pytestmark = [pytest.mark.integration]

ESX = "localhost.localdomain"
VC_HOST = "DC0_C0_H0"
ALL = 'selector: {hosts: ["*"]}\n'
NO_FAULT = "RequestCanceled"  # a permanent fault: no retries, the call simply fails


def lockdown_state(h) -> tuple[str, list[str]]:
    access = h.configManager.hostAccessManager
    return str(access.lockdownMode), sorted(access.QueryLockdownExceptions() or [])


def allow_list(h, key: str) -> tuple[bool, bool, list[str], list[str]]:
    r = ruleset(h, key)
    hosts = r.allowedHosts
    return (r.enabled, hosts.allIp, sorted(hosts.ipAddress or []),
            sorted(f"{n.network}/{n.prefixLength}" for n in hosts.ipNetwork or []))


def waiver(name: str, fields: str, policies: str = "") -> str:
    extra = f"  policies: [{policies}]\n" if policies else ""
    return (f"apiVersion: vsr.dev/v1alpha1\nkind: Waiver\nmetadata: {{name: {name}}}\nspec:\n"
            f"  selector: {{hosts: [\"*\"]}}\n  fields: [{fields}]\n{extra}"
            "  reason: test\n  owner: test@example.com\n  expires: 2999-12-31\n")


def apply(ws: Workspace, capsys, *args: str):
    run = ws.vsr(capsys, "apply", *args)
    assert run.json["specIssues"] == [], run.json["specIssues"]
    return run


def one(run, path: str, name: str = ESX) -> dict:
    (change,) = run.changes(name=name, path=path)
    return change


def refused(run, path: str, name: str = ESX) -> str:
    change = one(run, path, name)
    assert change["reason"] == "guard" and change["outcome"] != "applied", change
    assert change["message"].startswith("refusing"), change
    return change["message"]


def not_admitted(esx) -> str:
    """The refusal for vsr's own login; the user name comes from a file, so the message names the file."""
    return (f"refusing lockdown mode 'normal': the reconciler connects directly to this host as the user in "
            f"{esx.username_file}, which is "
            "not a lockdown exception user; add it to lockdown.exceptionUsers or connect through vCenter")


def lock(h, users: list[str]) -> None:
    """Put the host in normal lockdown with these exception users (EnterLockdownMode: not a `-fail` target)."""
    h.configManager.hostAccessManager.UpdateLockdownExceptions(users=users)
    h.EnterLockdownMode()
    assert lockdown_state(h) == ("lockdownNormal", sorted(users))


# -- item 1: the guard judges the values that will really be applied -----------------------------------------

def test_waived_exception_users_cannot_admit_lockdown(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    ws.policy("lockdown", ALL + f"lockdown: {{mode: normal, exceptionUsers: [{esx.username}]}}")
    ws.write("waiver.yaml", waiver("users", "lockdown.exceptionUsers"))
    run = apply(ws, capsys)
    assert one(run, "lockdown.exceptionUsers")["reason"] == "waived"
    assert refused(run, "lockdown.mode") == not_admitted(esx)
    assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownDisabled", [])
    assert [e for e in ws.events("RemediationBlocked") if e.path == "lockdown.mode"]


def test_audit_policy_holding_exception_users_cannot_admit_lockdown(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    ws.policy("enforce", ALL + f"lockdown: {{mode: normal, exceptionUsers: [{esx.username}]}}")
    ws.policy("audit", ALL + "enforcement: Audit\npriority: 10\n"
              f"lockdown: {{exceptionUsers: [{esx.username}, backup-agent]}}")
    run = apply(ws, capsys)
    users = one(run, "lockdown.exceptionUsers")
    assert users["reason"] == "audit" and users["policy"] == "audit"
    assert refused(run, "lockdown.mode") == not_admitted(esx)
    assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownDisabled", [])


def test_second_policy_in_audit_cannot_admit_lockdown(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    ws.policy("mode", ALL + "lockdown: {mode: strict}")
    ws.policy("users", ALL + f"enforcement: Audit\nlockdown: {{exceptionUsers: [{esx.username}]}}")
    run = apply(ws, capsys)
    assert one(run, "lockdown.exceptionUsers")["reason"] == "audit"
    assert refused(run, "lockdown.mode").startswith("refusing lockdown mode 'strict': ")
    assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownDisabled", [])


def test_unreadable_exception_users_refuse_lockdown(sim_factory, tmp_path, capsys):
    """QueryLockdownExceptions fails: the plan knows nothing of the exception users, so lockdown is refused
    (before, such a change skipped labelling and guards and was applied)."""
    esx = sim_factory("-esx", "-fail", f"QueryLockdownExceptions:/1:{NO_FAULT}")
    ws = Workspace(tmp_path, esx)
    ws.policy("lockdown", ALL + "lockdown: {mode: normal}")
    run = ws.vsr(capsys, "apply")
    message = refused(run, "lockdown.mode")
    assert message == ("refusing lockdown mode 'normal': the host's lockdown exception users could not be read, "
                       f"so vsr cannot tell whether the user in {esx.username_file} keeps its direct access")
    assert str(host(esx.connect(), ESX).configManager.hostAccessManager.lockdownMode) == "lockdownDisabled"


def test_refusal_is_judged_again_right_before_writing(sim_factory, tmp_path):
    """A change held back after planning (the daemon's flap detector, a saved plan's stale mark, a --target
    filter) leaves the old value in effect: the executor's own guard pass refuses the change that relied on it."""
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    ws.policy("lockdown", ALL + f"lockdown: {{mode: normal, exceptionUsers: [{esx.username}]}}")
    loaded = load_specs([ws.specs])
    specs = compile_documents(loaded.documents, dt.date.today())
    conn = Connection(settings_from_spec("sim", specs.vcenters["sim"].model.spec)).connect()
    try:
        vplan = planner.plan_vcenter(conn, facts_of(conn, "sim"), specs.policies, specs.waivers)
        (po,) = vplan.objects
        assert {c.path[1]: c.reason for c in po.changes} == {"mode": None, "exceptionUsers": None}
        po.changes = [c.with_(reason=Skip.FLAPPING) if c.path[1] == "exceptionUsers" else c for c in po.changes]
        executor.apply_plan(conn, vplan, concurrency=1)
    finally:
        conn.close()
    (mode,) = [c for c in vplan.plan.changes if c.path == ("lockdown", "mode")]
    assert mode.reason is Skip.GUARD and mode.outcome is Outcome.SKIPPED
    assert mode.message == not_admitted(esx)
    events = recording.outcome_events(vplan.plan.changes)
    assert [e.reason for e in events if e.path == "lockdown.mode"] == ["RemediationBlocked"]
    assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownDisabled", [])


# -- item 2: exception-user matching by ESXi's rules ---------------------------------------------------------

def test_exception_users_match_by_domain_and_case(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    h = lambda: host(esx.connect(), ESX)  # noqa: E731
    for entry in (f"OTHERDOMAIN\\\\{esx.username.upper()}", f"{esx.username}@corp.example.com",
                  esx.username.upper(), f"CORP\\\\{esx.username}"):
        ws.policy("lockdown", ALL + f'lockdown: {{mode: normal, exceptionUsers: ["{entry}"]}}')
        run = apply(ws, capsys)
        message = refused(run, "lockdown.mode")
        assert message.startswith(not_admitted(esx)), (entry, message)
        assert refused(run, "lockdown.exceptionUsers").startswith("refusing lockdown exception users ")
        assert lockdown_state(h()) == ("lockdownDisabled", []), entry
    assert "is not the same account: local account names must match exactly" in message
    # control: the exact local name is admitted, and lockdown is entered with it
    ws.policy("lockdown", ALL + f'lockdown: {{mode: normal, exceptionUsers: ["{esx.username}"]}}')
    run = apply(ws, capsys)
    assert run.code == 0 and lockdown_state(h()) == ("lockdownNormal", [esx.username])


def test_exception_user_only_change_on_a_locked_host(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx")
    lock(host(esx.connect(), ESX), [esx.username])
    ws = Workspace(tmp_path, esx)
    for users in (f"[{esx.username.upper()}]", "[backup-agent]", "[]"):
        ws.policy("users", ALL + f"lockdown: {{exceptionUsers: {users}}}")
        run = apply(ws, capsys)
        message = refused(run, "lockdown.exceptionUsers")
        assert message.startswith("refusing lockdown exception users ") and \
            f"the host stays in lockdown mode 'normal' and the reconciler connects directly to it as " \
            f"the user in {esx.username_file}, which that list does not admit" in message, message
        assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownNormal", [esx.username])
    # control: adding a user while keeping vsr's is applied
    ws.policy("users", ALL + f"lockdown: {{exceptionUsers: [{esx.username}, backup-agent]}}")
    assert apply(ws, capsys).code == 0
    assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownNormal", ["backup-agent", esx.username])


# -- call order: a failed first call leaves a safe host ------------------------------------------------------

def test_entering_lockdown_sets_exception_users_first(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx", "-fail", f"UpdateLockdownExceptions:/1:{NO_FAULT}")
    ws = Workspace(tmp_path, esx)
    ws.policy("lockdown", ALL + f"lockdown: {{mode: normal, exceptionUsers: [{esx.username}]}}")
    run = apply(ws, capsys)
    assert run.code == 1
    assert {c["path"]: c["outcome"] for c in run.changes(name=ESX)} == \
        {"lockdown.mode": "failed", "lockdown.exceptionUsers": "failed"}
    assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownDisabled", []), "lockdown was never entered"


def test_leaving_lockdown_changes_the_mode_before_removing_exception_users(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx", "-fail", f"ChangeLockdownMode:/1:{NO_FAULT}")
    lock(host(esx.connect(), ESX), [esx.username])
    ws = Workspace(tmp_path, esx)
    ws.policy("lockdown", ALL + "lockdown: {mode: disabled, exceptionUsers: []}")
    run = apply(ws, capsys)
    assert run.code == 1 and one(run, "lockdown.mode")["outcome"] == "failed"
    assert lockdown_state(host(esx.connect(), ESX)) == ("lockdownNormal", [esx.username]), \
        "vsr's exception stays while the host is still locked down"


def test_firewall_sets_the_allow_list_before_enabling(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx", "-fail", f"UpdateRuleset:/1:{NO_FAULT}")
    h = host(esx.connect(), ESX)
    key = next(r.key for r in h.configManager.firewallSystem.firewallInfo.ruleset
               if not r.enabled and r.allowedHosts.allIp)
    before = allow_list(h, key)
    ws = Workspace(tmp_path, esx)
    ws.policy("fw", ALL + f'firewall: {{{key}: {{enabled: true, allowedIPs: ["192.0.2.0/24"]}}}}')
    run = apply(ws, capsys)
    assert run.code == 1
    assert allow_list(host(esx.connect(), ESX), key) == before == (False, True, [], []), \
        "the ruleset was not opened to everyone before its allow-list"


# -- item 3: the other guards --------------------------------------------------------------------------------

def test_allow_list_whose_admitting_value_is_waived(sim_factory, tmp_path, capsys):
    """An allow-list is one field: waiving the value that admits vsr does not let a lower-priority, restricting
    value through (it never won the merge)."""
    esx = sim_factory("-esx")
    before = allow_list(host(esx.connect(), ESX), "vSphereClient")
    ws = Workspace(tmp_path, esx)
    ws.policy("admit", ALL + 'priority: 10\nfirewall: {vSphereClient: {allowedIPs: ["127.0.0.1", "192.0.2.0/24"]}}')
    ws.policy("restrict", ALL + 'firewall: {vSphereClient: {allowedIPs: ["192.0.2.0/24"]}}')
    ws.write("waiver.yaml", waiver("admit", "firewall.vSphereClient.allowedIPs", "admit"))
    run = apply(ws, capsys)
    change = one(run, "firewall.vSphereClient.allowedIPs")
    assert change["reason"] == "waived" and change["policy"] == "admit"
    assert allow_list(host(esx.connect(), ESX), "vSphereClient") == before


def pinned_vcenter(esx, server: str) -> str:
    return ("apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {name: sim}\nspec:\n"
            f"  server: \"{server}\"\n"
            f"  credentials: {{usernameFile: \"{esx.username_file}\", passwordFile: \"{esx.password_file}\"}}\n"
            f"  tls: {{thumbprint: \"{esx.thumbprint}\"}}\n")


def read_host(esx, address: str):
    """pyVmomi on `address` (the certificate is verified against the test CA; its SANs name only IPv4)."""
    ctx = ssl.create_default_context(cafile=esx.ca_file)
    ctx.check_hostname = False
    si = SmartConnect(host=address, port=esx.port, user=esx.username, pwd=esx.password, sslContext=ctx)
    try:
        return allow_list(host(si, ESX), "vSphereClient")
    finally:
        Disconnect(si)


def test_allow_list_against_an_ipv4_mapped_source(sim_factory, tmp_path, capsys):
    """vsr reaches a dual-stack host as `::ffff:127.0.0.1`: on the wire that is IPv4 127.0.0.1. `::/0` (IPv6
    only) and a mapped entry do not admit it for sure; `127.0.0.0/8` does."""
    esx = sim_factory("-esx", "-l", "[::]:0")
    ws = Workspace(tmp_path, esx)
    (ws.specs / "vcenter.yaml").write_text(pinned_vcenter(esx, f"[::ffff:127.0.0.1]:{esx.port}"))
    before = read_host(esx, "127.0.0.1")
    for allowed in ('["::/0"]', '["::ffff:127.0.0.1"]', '["128.0.0.0/1", "::ffff:127.0.0.0/104"]'):
        ws.policy("allow", ALL + f"firewall: {{vSphereClient: {{allowedIPs: {allowed}}}}}")
        run = apply(ws, capsys)
        message = refused(run, "firewall.vSphereClient.allowedIPs")
        assert message.endswith("it excludes ::ffff:127.0.0.1, the address the reconciler uses to manage this host")
        assert read_host(esx, "127.0.0.1") == before, allowed
    ws.policy("allow", ALL + 'firewall: {vSphereClient: {allowedIPs: ["127.0.0.0/8"]}}')
    assert apply(ws, capsys).code == 0
    assert read_host(esx, "127.0.0.1")[1:] == (False, [], ["127.0.0.0/8"])


def test_allow_list_against_an_ipv6_source(sim_factory, tmp_path, capsys):
    esx = sim_factory("-esx", "-l", "[::1]:0")
    ws = Workspace(tmp_path, esx)
    (ws.specs / "vcenter.yaml").write_text(pinned_vcenter(esx, f"[::1]:{esx.port}"))
    before = read_host(esx, "::1")
    for allowed in ('["127.0.0.0/8"]', '["0.0.0.0/0"]', '["::2/128", "fe80::/10"]'):
        ws.policy("allow", ALL + f"firewall: {{vSphereClient: {{allowedIPs: {allowed}}}}}")
        run = apply(ws, capsys)
        assert refused(run, "firewall.vSphereClient.allowedIPs").endswith(
            "it excludes ::1, the address the reconciler uses to manage this host")
        assert read_host(esx, "::1") == before, allowed
    ws.policy("allow", ALL + 'firewall: {vSphereClient: {allowedIPs: ["::1"]}}')
    assert apply(ws, capsys).code == 0
    assert read_host(esx, "::1")[1:] == (False, ["::1"], [])


def test_ruleset_and_service_key_case_cannot_bypass(sim_factory, tmp_path, capsys):
    """The host's ruleset and service keys are case-sensitive (the simulator refuses `VSPHERECLIENT`): such a
    key is reported as unknown, never written, and the guards compare keys ignoring case anyway."""
    sim = sim_factory()
    ws = Workspace(tmp_path, sim)
    h = host(sim.connect(), VC_HOST)
    before = (allow_list(h, "vSphereClient"), allow_list(h, "vpxHeartbeats"), service(h, "vpxa").running)
    ws.policy("case", 'selector: {hosts: ["DC0_C0_H0"]}\n'
              'firewall: {VSPHERECLIENT: {allowedIPs: ["192.0.2.0/24"]}, vsphereclient: {enabled: false},\n'
              '           VPXHEARTBEATS: {enabled: false}}\nservices: {VPXA: {running: false}}')
    run = apply(ws, capsys)
    by_path = {c["path"]: c for c in run.changes(name=VC_HOST)}
    assert set(by_path) == {"firewall.VSPHERECLIENT.allowedIPs", "firewall.vsphereclient.enabled",
                            "firewall.VPXHEARTBEATS.enabled", "services.VPXA.running"}
    assert all(c["reason"] == "unsupported" and c["outcome"] != "applied" for c in by_path.values())
    assert by_path["firewall.VSPHERECLIENT.allowedIPs"]["message"] == (
        "firewall ruleset 'VSPHERECLIENT' does not exist on this host (ruleset keys are case-sensitive: did you "
        "mean 'vSphereClient'?)")
    h = host(sim.connect(), VC_HOST)
    assert (allow_list(h, "vSphereClient"), allow_list(h, "vpxHeartbeats"), service(h, "vpxa").running) == before


def test_vcenter_heartbeats_cannot_be_cut(sim_factory, tmp_path, capsys):
    sim = sim_factory()
    ws = Workspace(tmp_path, sim)
    h = host(sim.connect(), VC_HOST)
    vc_address = h.summary.managementServerIp
    before = allow_list(h, "vpxHeartbeats")
    assert before[0] is True and vc_address
    ws.policy("hb", 'selector: {hosts: ["DC0_C0_H0"]}\nfirewall: {vpxHeartbeats: {enabled: false}}')
    assert refused(apply(ws, capsys), "firewall.vpxHeartbeats.enabled", VC_HOST) == (
        "refusing to disable ruleset vpxHeartbeats: vCenter's agent (vpxa) sends its heartbeats through it; "
        "without them vCenter loses the host")
    ws.policy("hb", 'selector: {hosts: ["DC0_C0_H0"]}\nfirewall: {vpxHeartbeats: {allowedIPs: ["192.0.2.0/24"]}}')
    assert refused(apply(ws, capsys), "firewall.vpxHeartbeats.allowedIPs", VC_HOST).endswith(
        f"it excludes {vc_address}, the address of vCenter, to which the host sends its agent heartbeats")
    assert allow_list(host(sim.connect(), VC_HOST), "vpxHeartbeats") == before
    # control: an allow-list that keeps vCenter is applied
    ws.policy("hb", 'selector: {hosts: ["DC0_C0_H0"]}\n'
              f'firewall: {{vpxHeartbeats: {{allowedIPs: ["{vc_address}"]}}}}')
    assert apply(ws, capsys).code == 0
    assert allow_list(host(sim.connect(), VC_HOST), "vpxHeartbeats") == (True, False, [vc_address], [])


def test_all_ip_with_a_leftover_address_list_is_open_to_all(sim_factory, tmp_path, capsys):
    """`allIp=true` admits everyone whatever addresses are still listed: it is `all`, not the list."""
    esx = sim_factory("-esx")
    h = host(esx.connect(), ESX)
    h.configManager.firewallSystem.UpdateRuleset(id="sshServer", spec=vim.host.Ruleset.RulesetSpec(
        allowedHosts=vim.host.Ruleset.IpList(allIp=True, ipAddress=["192.0.2.1"])))
    ws = Workspace(tmp_path, esx)
    ws.policy("ssh", ALL + 'firewall: {sshServer: {allowedIPs: "all"}}')
    assert ws.vsr(capsys, "plan").code == 0, "allIp=true is `all`"
    ws.policy("ssh", ALL + 'firewall: {sshServer: {allowedIPs: ["192.0.2.1"]}}')
    plan = ws.vsr(capsys, "plan")
    change = one(plan, "firewall.sshServer.allowedIPs")
    assert plan.code == 2 and change["current"] == "all" and change["desired"] == ["192.0.2.1"]
    assert apply(ws, capsys).code == 0
    assert allow_list(host(esx.connect(), ESX), "sshServer")[1:] == (False, ["192.0.2.1"], [])
