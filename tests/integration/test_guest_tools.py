"""VMware Tools settings in the guest (`guestTools`), end to end against the simulator's Guest Operations API:
Audit reports drift; Enforce drift -> plan -> apply -> read back -> plan 0 on a Linux and a Windows guest; VMs
whose guest cannot be read are reported per VM without stopping the others; the guestoperations guard; guest
credentials appear in no output."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from pyVmomi import vim

from harness import Workspace, by_name
from reconciler.controllers import toolsconf
from reconciler.vsphere import guestops
from reconciler.vsphere.connection import Connection
from reconciler.vsphere.settings import settings_from_spec
from simulator import start_simulator

pytestmark = pytest.mark.integration

LINUX, WINDOWS = "DC0_C0_H0_VM0", "DC0_C0_H0_VM1"
NO_TOOLS, WRONG_PW, NO_FILE = "DC0_C0_H1_VM0", "DC0_C0_H1_VM1", "DC0_C0_H2_VM0"
ACCEPTS, NO_CREDS, REFUSED = "DC0_C0_H2_VM1", "DC0_H0_VM0", "DC0_H0_VM1"
LINUX_PW, WINDOWS_PW = "l1nux-Gu3st-pw", "W1ndows-Gu3st-pw"
LINUX_PATH = "/etc/vmware-tools/tools.conf"
WINDOWS_PATH = r"C:\ProgramData\VMware\VMware Tools\tools.conf"


@pytest.fixture(scope="module")
def guest_sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("guests")
    (root / "linux-pw").write_text(LINUX_PW + "\n")
    (root / "windows-pw").write_text(WINDOWS_PW + "\n")
    (root / "guests").write_text(
        f"*          os=linux user=root password={root / 'linux-pw'}\n"
        f"*_VM1      os=windows user=Administrator password={root / 'windows-pw'}\n"
        f"{NO_TOOLS} tools=notRunning\n"
        f"{NO_FILE}  toolsconf=absent\n"
        f"{NO_CREDS} user=auditor password={root / 'linux-pw'} access=read\n")
    handle = start_simulator("-guests", str(root / "guests"))
    yield handle, root
    handle.stop()


@pytest.fixture
def ws(tmp_path, guest_sim):
    handle, root = guest_sim
    ws = Workspace(tmp_path, handle)
    ws.secrets = root  # type: ignore[attr-defined]
    return ws


def creds(ws, windows=False, password_file=None):
    user = "Administrator" if windows else "root"
    pw = password_file or ws.secrets / ("windows-pw" if windows else "linux-pw")
    return f"credentials: {{username: {user}, passwordFile: \"{pw}\"}}"


def policy(ws, name, vms, body, enforce=True):
    vms_list = ", ".join(f'"{v}"' for v in vms)
    text = f"selector: {{vms: [{vms_list}]}}\nguestTools:\n" + "\n".join(f"  {line}" for line in body)
    if enforce:
        text += "\n  enforcement: Enforce"
    ws.policy(name, text, kind="VMSecurityPolicy")


def tools_controller():
    from reconciler import controllers
    return next(c for c in controllers.ALL if c.name == "vmGuestTools")


def read_guest(handle, vm_name, path, windows=False):
    settings = settings_from_spec("sim", {"server": f"{handle.host}:{handle.port}", "credentials": {
        "username": handle.username, "passwordFile": str(handle.password_file)},
        "tls": {"caFile": str(handle.ca_file)}})
    with Connection(settings).connect() as conn:
        vm = by_name(conn.si, vim.VirtualMachine, vm_name)
        account = guestops.GuestCredentials("Administrator" if windows else "root",
                                            SecretStr(WINDOWS_PW if windows else LINUX_PW))
        data = guestops.read_file(conn, vm, account, path)
    return None if data is None else data.decode()


SCG = ["allowAddFeature: false", "allowRemoveFeature: false", "allowMsiTransforms: false", "appinfoDisabled: true",
       "containerinfoPollInterval: 0", 'guestStoreUpgradePolicy: "off"', "serviceDiscoveryDisabled: true",
       "logHandler: syslog", "customizationEnabled: false", "allowUpgrade: true", "globalConfEnabled: false",
       "logging: true"]


def test_audit_reports_drift_with_when_the_guest_was_read(ws, capsys):
    policy(ws, "audit", [NO_FILE], [creds(ws), *SCG], enforce=False)
    run = ws.vsr(capsys, "plan")
    assert run.code == 2, run.err
    changes = {c["path"]: c for c in run.changes(name=NO_FILE)}
    assert set(changes) == {"guestTools.allowAddFeature", "guestTools.allowRemoveFeature", "guestTools.appinfoDisabled",
                            "guestTools.containerinfoPollInterval", "guestTools.guestStoreUpgradePolicy",
                            "guestTools.serviceDiscoveryDisabled", "guestTools.logHandler",
                            "guestTools.customizationEnabled"}
    assert all(c["reason"] == "audit" and c.get("readAt") for c in changes.values())
    assert changes["guestTools.containerinfoPollInterval"]["current"] == 21600
    assert ws.vsr(capsys, "apply").code == 2  # Audit: nothing written
    assert read_guest(ws.sim, NO_FILE, LINUX_PATH) is None


@pytest.mark.parametrize("vm_name,path,windows", [(LINUX, LINUX_PATH, False), (WINDOWS, WINDOWS_PATH, True)])
def test_enforce_drift_plan_apply_read_back_plan_zero(ws, capsys, vm_name, path, windows):
    before = read_guest(ws.sim, vm_name, path, windows)
    policy(ws, "enforce", [vm_name], [creds(ws, windows), *SCG])
    plan = ws.vsr(capsys, "plan")
    assert plan.code == 2 and len(plan.changes(name=vm_name)) == 8, plan.out
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out + applied.err
    after = read_guest(ws.sim, vm_name, path, windows)
    values = toolsconf.parse(after)
    assert values[("autoupgrade", "allow-add-feature")] == "false"
    assert values[("containerinfo", "poll-interval")] == "0"
    assert all(values[("logging", h)] == "syslog" for h in ("vmtoolsd.handler", "vmsvc.handler",
                                                            "toolboxcmd.handler", "vgauthsvc.handler"))
    assert ("guestoperations", "disabled") not in values  # unmanaged keys stay absent
    kept = [line for line in before.splitlines() if line.startswith("#")]
    assert [line for line in after.splitlines() if line.startswith("#")] == kept  # every comment kept
    assert ("\r\n" in after) is windows  # the guest's line endings kept
    assert ws.vsr(capsys, "plan").code == 0


def test_unreadable_guests_are_reported_per_vm_and_others_go_on(ws, capsys):
    policy(ws, "fleet", [NO_TOOLS, NO_FILE], [creds(ws), "appinfoDisabled: true"])
    policy(ws, "none", [NO_CREDS], ["appinfoDisabled: true"])  # no credentials for this VM
    run = ws.vsr(capsys, "plan")
    assert run.code == 2, run.out + run.err
    reasons = {c["object"]["name"]: (c["reason"], c["message"]) for c in run.json["changes"]}
    assert reasons[NO_TOOLS][0] == "unsupported" and "VMware Tools is not running" in reasons[NO_TOOLS][1]
    assert reasons[NO_CREDS][0] == "unsupported" and "no guest credentials" in reasons[NO_CREDS][1]
    assert reasons[NO_FILE][0] is None  # read fine: real drift, to be applied
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out  # unsupported never counts as drift; NO_FILE was fixed
    assert toolsconf.parse(read_guest(ws.sim, NO_FILE, LINUX_PATH))[("appinfo", "disabled")] == "true"


def test_wrong_guest_password_is_reported_for_that_vm(ws, capsys):
    policy(ws, "wrong", [WRONG_PW], [creds(ws, True, ws.secrets / "linux-pw"), "appinfoDisabled: true"])
    run = ws.vsr(capsys, "plan")
    (change,) = run.changes(name=WRONG_PW)
    assert change["reason"] == "unsupported" and "InvalidGuestLogin" in change["message"]


def test_disabling_guest_operations_is_refused_unless_the_policy_accepts_losing_access(ws, capsys):
    policy(ws, "refused", [REFUSED], [creds(ws, True), "guestOperationsDisabled: true", "appinfoDisabled: true"])
    policy(ws, "accepts", [ACCEPTS], [creds(ws, True), "guestOperationsDisabled: true", "appinfoDisabled: true",
                                      "acceptLosingAccess: true"])
    plan = ws.vsr(capsys, "plan")
    refused = {c["path"]: c for c in plan.changes(name=REFUSED)}
    assert refused["guestTools.guestOperationsDisabled"]["reason"] == "guard"
    assert "ends vsr's own access" in refused["guestTools.guestOperationsDisabled"]["message"]
    applied = ws.vsr(capsys, "apply")
    accepted = {c["path"]: c for c in applied.changes(name=ACCEPTS)}
    assert {c["outcome"] for c in accepted.values()} == {"applied"}, applied.out
    # one write held both keys: the guest now refuses guest operations
    with pytest.raises(vim.fault.GuestOperationsUnavailable):
        read_guest(ws.sim, ACCEPTS, WINDOWS_PATH, True)
    # this process remembers what it wrote; a new one (memo cleared) reports the VM unsupported, with the reason
    assert ws.vsr(capsys, "plan").changes(name=ACCEPTS) == []
    tools_controller()._written.clear()
    after = {c["path"]: c for c in ws.vsr(capsys, "plan").changes(name=ACCEPTS)}
    assert "guestTools.guestOperationsDisabled" not in after  # Tools run but refuse: disabled, as desired
    assert after["guestTools.appinfoDisabled"]["reason"] == "unsupported"
    assert "guest operations are unavailable" in after["guestTools.appinfoDisabled"]["message"]
    assert toolsconf.parse(read_guest(ws.sim, REFUSED, WINDOWS_PATH, True)).get(("guestoperations", "disabled")) is None


def test_guest_credentials_appear_in_no_output(ws, capsys):
    policy(ws, "secret", [LINUX, WRONG_PW], [creds(ws), "appinfoDisabled: false"])
    outputs = [ws.vsr(capsys, cmd, *extra) for cmd, extra in (("plan", ()), ("apply", ()), ("report", ()))]
    journal = Path(ws.journal).read_bytes()
    for text in [o.out + o.err for o in outputs]:
        assert LINUX_PW not in text and WINDOWS_PW not in text
    assert LINUX_PW.encode() not in journal and WINDOWS_PW.encode() not in journal


def test_the_daemon_reads_and_fixes_a_guest(guest_sim, tmp_path):
    from harness import wait_for
    from test_daemon import Daemon, vcenter_doc

    handle, root = guest_sim
    d = Daemon(tmp_path / "d")
    (d.specs / "vc.yaml").write_text(vcenter_doc(handle, "sim", tmp_path / "creds"))
    (d.specs / "guest.yaml").write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: VMSecurityPolicy\nmetadata: {name: daemon-guest}\nspec:\n"
        f"  selector: {{vms: [\"{LINUX}\"]}}\n  guestTools:\n"
        f"    credentials: {{username: root, passwordFile: \"{root / 'linux-pw'}\"}}\n"
        "    enforcement: Enforce\n    containerinfoPollInterval: 60\n")
    try:
        d.start().wait_ready()
        wait_for(lambda: d.events("DriftRemediated", LINUX, "guestTools.containerinfoPollInterval"), 10.0,
                 f"DriftRemediated\n{d.log.read_text()}")
    finally:
        d.stop()
    assert toolsconf.parse(read_guest(handle, LINUX, LINUX_PATH))[("containerinfo", "poll-interval")] == "60"
    assert LINUX_PW not in d.log.read_text()


def test_a_read_only_guest_account_audits_but_its_write_fails_for_that_vm_only(ws, capsys):
    policy(ws, "auditor", [NO_CREDS], [f"credentials: {{username: auditor, passwordFile: \"{ws.secrets / 'linux-pw'}\"}}",
                                       "globalConfEnabled: true"])
    policy(ws, "other", [NO_FILE], [creds(ws), "globalConfEnabled: true"])
    plan = ws.vsr(capsys, "plan")
    assert [c["reason"] for c in plan.changes(name=NO_CREDS)] == [None]  # read: the account may read
    applied = ws.vsr(capsys, "apply")
    (failed,) = applied.changes(name=NO_CREDS)
    assert failed["outcome"] == "failed" and "GuestPermissionDenied" in failed["error"], failed
    assert [c["outcome"] for c in applied.changes(name=NO_FILE)] == ["applied"]
