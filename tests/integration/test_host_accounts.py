"""Seed 000, non-root administration: host-local accounts and their root permission (`localAccounts`), end to
end on a directly connected simulated ESXi host: drift -> plan -> apply -> read back -> plan 0; the guard that
keeps vsr's own account; `unsupported` through vCenter; the password never shown anywhere."""

from __future__ import annotations

import pytest
from harness import Workspace
from pyVmomi import vim

from simulator import start_simulator

pytestmark = pytest.mark.integration

PASSWORD = "Vsr-Acc0unt-Pw-must-not-leak!"


@pytest.fixture(scope="module")
def esx():
    handle = start_simulator("-esx")
    yield handle
    handle.stop()


def accounts(si) -> dict[str, tuple[str, bool]]:
    content = si.RetrieveContent()
    found = content.userDirectory.RetrieveUserGroups(searchStr="", exactMatch=False, findUsers=True, findGroups=False)
    return {u.principal: (u.fullName or "", u.shellAccess) for u in found}


def roles(si) -> dict[str, str]:
    content = si.RetrieveContent()
    authz = content.authorizationManager
    names = {r.roleId: r.name for r in authz.roleList}
    return {p.principal: names[p.roleId] for p in
            authz.RetrieveEntityPermissions(entity=content.rootFolder, inherited=False) if not p.group}


def test_listed_accounts_converge_and_others_stay(esx, tmp_path, capsys):
    si = esx.connect()
    manager = si.RetrieveContent().accountManager
    for name in ("legacy", "bystander"):
        manager.CreateUser(user=vim.host.LocalAccountManager.PosixAccountSpecification(
            id=name, password="Old-Passw0rd!", description="old"))
    before = {k: v for k, v in accounts(si).items() if k == "bystander"}
    ws = Workspace(tmp_path, esx)
    secret = tmp_path / "svc-admin.pw"
    secret.write_text(PASSWORD + "\n")
    ws.policy("admins", f"""
        selector: {{hosts: ["*"]}}
        localAccounts:
          svc-admin: {{description: "named administrator", shellAccess: false, role: Admin, passwordFile: "{secret}"}}
          legacy: {{present: false}}
          root: {{description: "Administrator"}}
    """)
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out + first.err
    paths = sorted(c["path"] for c in first.json["changes"])
    assert paths == ["localAccounts.legacy.present", "localAccounts.svc-admin.description",
                     "localAccounts.svc-admin.present", "localAccounts.svc-admin.role",
                     "localAccounts.svc-admin.shellAccess"], first.out
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err
    assert all(c["outcome"] == "applied" for c in applied.json["changes"]), applied.out
    seen = accounts(si)
    assert seen["svc-admin"] == ("named administrator", False)
    assert "legacy" not in seen
    assert {k: v for k, v in seen.items() if k == "bystander"} == before
    assert roles(si)["svc-admin"] == "Admin"
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == [], again.out
    # the password goes to CreateUser only: it appears in no output and no event
    everything = first.out + first.err + applied.out + applied.err + again.out + again.err
    everything += "".join(f"{e.message} {e.current} {e.desired}" for e in ws.events())
    assert PASSWORD not in everything


def test_role_change_and_removal_of_a_permission(esx, tmp_path, capsys):
    si = esx.connect()
    si.RetrieveContent().accountManager.CreateUser(user=vim.host.LocalAccountManager.PosixAccountSpecification(
        id="auditor", password="Aud1tor-Pw!", description="auditor"))
    ws = Workspace(tmp_path, esx)
    ws.policy("auditor", """
        selector: {hosts: ["*"]}
        localAccounts:
          auditor: {role: ReadOnly}
          dcui: {role: none}
    """)
    first = ws.vsr(capsys, "plan")
    assert first.code == 2, first.out
    by_path = {c["path"]: c for c in first.json["changes"]}
    assert (by_path["localAccounts.auditor.role"]["current"], by_path["localAccounts.auditor.role"]["desired"]) \
        == ("none", "ReadOnly")
    assert by_path["localAccounts.dcui.role"]["current"] == "Admin"
    assert ws.vsr(capsys, "apply").code == 0
    now = roles(si)
    assert now["auditor"] == "ReadOnly" and "dcui" not in now
    assert ws.vsr(capsys, "plan").code == 0


def test_guard_keeps_vsrs_own_account(esx, tmp_path, capsys):
    si = esx.connect()
    ws = Workspace(tmp_path, esx)
    for attrs, path in (("{role: ReadOnly}", "role"), ("{present: false}", "present")):
        ws.policy("me", f"""
            selector: {{hosts: ["*"]}}
            localAccounts:
              {esx.username}: {attrs}
        """)
        applied = ws.vsr(capsys, "apply")
        (change,) = applied.json["changes"]
        assert change["path"] == f"localAccounts.{esx.username}.{path}", applied.out
        assert change["reason"] == "guard" and change["outcome"] != "applied", applied.out
        assert "the reconciler logs in to this host with it" in change["message"]
        assert esx.username in accounts(si) and roles(si)[esx.username] == "Admin"


def test_through_vcenter_is_unsupported_with_the_reason(sim, tmp_path, capsys):
    ws = Workspace(tmp_path, sim)
    ws.policy("admins", """
        selector: {hosts: ["DC0_C0_H0"]}
        localAccounts:
          svc-admin: {role: Admin}
    """)
    plan = ws.vsr(capsys, "plan")
    changes = plan.json["changes"]
    assert sorted(c["path"] for c in changes) == ["localAccounts.svc-admin.present", "localAccounts.svc-admin.role"]
    assert all(c["reason"] == "unsupported" and "connect to the host directly" in c["message"] for c in changes)
