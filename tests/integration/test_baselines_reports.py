"""The SCG 8 baseline end to end against the `-drift` simulator: `vsr report` shows failures with control IDs,
`vsr apply` converges, and the report then passes apart from pending power cycles and what the simulator cannot
do (listed below). Every report format is produced from the same run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from harness import Workspace, by_name, host, option, ruleset, service
from reconciler.catalog import baselines

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SITE = {"SYSLOG_HOSTS": '"udp://192.0.2.10:514"', "ADMIN_NETWORKS": '["192.0.2.0/24", "127.0.0.1"]',
        "EXCEPTION_USERS": "[]", "BANNER": '"Authorized use only."', "ESX_ADMINS_GROUP": '"esx-admins-lab"',
        "NTP_SERVERS": '["ntp1.lab.test", "ntp2.lab.test", "ntp3.lab.test", "ntp4.lab.test"]',
        "AD_DOMAIN": '"corp.lab.test"', "CERT_ISSUERS": '["OU=VMware Engineering, CN=CA"]',
        "MANAGEMENT_VMKS": "[vmk0]", "VMOTION_VMKS": "[vmk1]", "ROOT_SSH_KEYS": "[]"}
#: what the simulator cannot converge, by (control, status): nothing (it reports its vCenter address as
#: summary.managementServerIp, so the vSphereClient allow-list guard sees vCenter is inside the allowed networks)
SIMULATOR_LIMITS: set[tuple[str, str]] = set()
POWERED_OFF_VM = "DC0_C0_H0_VM1"
GUEST_PASSWORD = "baseline-Gu3st-pw"


@pytest.fixture
def guest_flags(tmp_path, monkeypatch):
    """Simulator flags giving every VM a guest account, and the environment the guest baselines read it from."""
    (tmp_path / "guest-pw").write_text(GUEST_PASSWORD)
    (tmp_path / "guests").write_text(f"* user=root password={tmp_path / 'guest-pw'}\n")
    monkeypatch.setenv("VSR_GUEST_USERNAME", "root")
    monkeypatch.setenv("VSR_GUEST_PASSWORD", GUEST_PASSWORD)
    return ("-guests", str(tmp_path / "guests"))


def guest_rows_ok(rows):
    """The guest baselines are Audit: a guest row fails only for reason audit, and is unsupported only on the
    powered-off VM (its guest cannot be read). Returns the other rows."""
    other = []
    for r in rows:
        if not r["control"].startswith("guest-") or "guestTools" not in str(r.get("fields")):
            other.append(r)
        elif r["status"] == "unsupported":
            assert r["object"]["name"] == POWERED_OFF_VM, r
        elif r["status"] != "pass":
            assert r["status"] == "fail" and all(f["reason"] == "audit" for f in r["fields"] if f["status"] == "fail"), r
    return other


@pytest.fixture(autouse=True)
def restore_logging():
    """vsr run in-process binds structlog to this test's captured stderr; restore it for later tests."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def ws(tmp_path, sim_factory, guest_flags):
    ws = Workspace(tmp_path, sim_factory("-drift", *guest_flags))
    for file in sorted((ROOT / "specs/baselines/scg-8").glob("*.yaml")):
        ws.write(f"scg-8-{file.name}", baselines.fill(file.read_text(), SITE))
    # installed guests may not boot after a BIOS -> EFI switch; these simulated ones do (an overlay policy:
    # VM parameters such as allowFirmwareChange travel with the fields of the policy that sets them)
    ws.policy("site-firmware", """
        selector: {vms: ["*"]}
        priority: 10
        secureBoot: true
        allowFirmwareChange: true
    """, kind="VMSecurityPolicy")
    return ws


def results(run):
    return {(r["object"]["name"], r["control"]): r for r in run.json["results"]}


def test_scg8_converges_and_the_report_goes_from_failures_to_pass(ws, capsys, tmp_path):
    si = ws.sim.connect()
    WaitForTask(by_name(si, vim.VirtualMachine, POWERED_OFF_VM).PowerOffVM_Task())

    before = ws.vsr(capsys, "report")
    assert before.code == 2, before.err
    rows = results(before)
    assert before.json["summary"]["fail"] > 0
    ssh = rows[("DC0_C0_H0", "esxi-8.deactivate-ssh")]
    assert ssh["status"] == "fail" and ssh["controls"] == ["esxi-8.deactivate-ssh", "ESXI-80-000193", "esx-9.ssh",
                                                               "VCFE-9X-000096"]
    assert ssh["current"] == {"services.TSM-SSH.policy": "on", "services.TSM-SSH.running": True}
    assert ssh["source"].endswith("scg-8-host.yaml:16")
    assert rows[("DC0_C0_H0", "esxi-8.transparent-page-sharing")]["current"] == 0
    assert rows[("DC0_C0_H1", "esxi-8.transparent-page-sharing")]["status"] == "fail"
    assert rows[("DC0_C0_H2", "esxi-8.transparent-page-sharing")]["status"] == "pass"  # not drifted
    assert rows[("DC0_DVPG0", "vcenter-8.network-reject-promiscuous-mode-dvportgroup")]["status"] == "fail"
    copy = rows[("DC0_C0_H0_VM0", "vm-8.deactivate-console-copy")]
    assert copy["controls"] == [
        "vm-8.deactivate-console-copy", "VMCH-80-000189", "vm-9.deactivate-console-copy", "VCFV-9X-000181"]
    assert copy["status"] == "pass", "SCG 8: TRUE or Undefined, and -drift's VM0 has no isolation.* keys"

    # every format from the drifted state, written with --file
    for fmt in ("junit", "sarif", "html", "markdown"):
        out = tmp_path / f"report.{fmt}"
        run = ws.vsr(capsys, "report", "-o", fmt, "--file", str(out))
        assert run.code == 2 and run.out == "" and str(out) in run.err
    suites = ET.parse(tmp_path / "report.junit").getroot()
    cases = suites.findall("./testsuite/testcase")
    assert len(cases) == len(before.json["results"]) == int(suites.get("tests"))
    assert int(suites.get("failures")) == len(suites.findall(".//failure")) == before.json["summary"]["fail"]
    sarif = json.loads((tmp_path / "report.sarif").read_text())
    run = sarif["runs"][0]
    assert len(run["results"]) == before.json["summary"]["fail"]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith(f"file://{ws.specs}/") and uri.endswith(".yaml")
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    assert "<script>" in (tmp_path / "report.html").read_text()
    assert "## Results that do not pass" in (tmp_path / "report.markdown").read_text()

    # the shipped guest baseline is Audit; this site enforces it (both the policy and guestTools.enforcement)
    guest = ws.specs / "scg-8-guest.yaml"
    guest.write_text(guest.read_text().replace("enforcement: Audit", "enforcement: Enforce"))
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0, applied.out  # what is left waits for running VMs to power off: pending, not drift

    after = ws.vsr(capsys, "report")
    assert after.code == 0 and ws.vsr(capsys, "report", "--strict").code == 2  # pending counts only with --strict
    statuses = Counter(r["status"] for r in after.json["results"])
    assert statuses["pass"] > 200 and statuses["pending"] > 0 and not statuses["waived"]
    left = {(r["control"], r["status"]) for r in guest_rows_ok(after.json["results"])
            if r["status"] not in ("pass", "pending")}
    assert left == SIMULATOR_LIMITS, left
    for r in after.json["results"]:
        if r["status"] == "pending" and r["object"]["type"] == "HostSystem":  # a host reboot (never vsr's)
            assert r["control"] in ("esxi-8.tls-profile", "esxi-8.entropy"), r
            assert all(f["reason"] == "needsReboot" for f in r["fields"] if f["status"] == "pending"), r
        elif r["status"] == "pending":  # only VMs that are running wait for a power cycle
            assert r["object"]["type"] == "VirtualMachine" and r["object"]["name"] != POWERED_OFF_VM, r
            assert all(f["reason"] in ("pendingPowerCycle", "needsPowerOff") for f in r["fields"]
                       if f["status"] == "pending")
    rows = results(after)
    assert rows[("DC0_C0_H0", "esxi-8.deactivate-ssh")]["status"] == "pass"
    assert rows[("DC0_C0_H0_VM0", "vm-8.deactivate-console-copy")]["status"] == "pass"
    assert rows[("DC0_C0_H0_VM0", "vm-8.vmotion-encrypted")]["status"] == "pass"  # applied to the running VM
    vm0 = by_name(si, vim.VirtualMachine, "DC0_C0_H0_VM0")
    assert "isolation.tools.copy.disable" not in {o.key for o in vm0.config.extraConfig}, "undefined: left alone"
    assert all(r["status"] == "pass" for (name, control), r in rows.items()
               if name == POWERED_OFF_VM and not control.startswith("guest-8.tools-"))  # its guest: unsupported
    vm = by_name(si, vim.VirtualMachine, POWERED_OFF_VM)  # read back: upgraded, secure boot on, no floppy
    assert (vm.config.version, vm.config.bootOptions.efiSecureBootEnabled) == ("vmx-17", True)



def test_report_changes_nothing(ws, capsys):
    first = ws.vsr(capsys, "report")
    second = ws.vsr(capsys, "report")
    assert first.code == second.code == 2
    assert [r["status"] for r in first.json["results"]] == [r["status"] for r in second.json["results"]]
    plan = ws.vsr(capsys, "plan")
    assert plan.code == 2 and all(c["outcome"] == "planned" for c in plan.json["changes"])
    labelled = [c for c in plan.json["changes"] if c["path"] == "advancedSettings.Mem.ShareForceSalting"]
    assert labelled and all(c["controls"] == ["esxi-8.transparent-page-sharing", "ESXI-80-000213",
                                                 "esx-9.transparent-page-sharing", "VCFE-9X-000064"] for c in labelled)


def test_home_esxi_on_a_standalone_host(tmp_path, sim_factory, capsys):
    ws = Workspace(tmp_path, sim_factory("-esx", "-drift"))
    for file in sorted((ROOT / "specs/baselines/home-esxi").glob("*.yaml")):
        ws.write(f"home-{file.name}", baselines.fill(file.read_text(), SITE))
    before = ws.vsr(capsys, "report")
    assert before.code == 2
    assert results(before)[("localhost.localdomain", "esxi-8.deactivate-ssh")]["status"] == "fail"
    assert ws.vsr(capsys, "apply").code == 0
    after = ws.vsr(capsys, "report")
    assert after.code == 0, after.out
    assert {r["status"] for r in after.json["results"]} == {"pass"}
    restrict = results(after)[("localhost.localdomain", "esxi-8.firewall-restrict-access")]
    assert [f["path"] for f in restrict["fields"]] == ["firewall.sshServer.allowedIPs", "firewall.vSphereClient.allowedIPs"]
    client = ruleset(host(ws.sim.connect(), "localhost.localdomain"), "vSphereClient")
    assert client.allowedHosts.allIp is False and "127.0.0.1" in client.allowedHosts.ipAddress


def test_stig_converges_on_the_drift_simulator(tmp_path, sim_factory, capsys):
    ws = Workspace(tmp_path, sim_factory("-drift"))
    for file in sorted((ROOT / "specs/baselines/stig").glob("*.yaml")):
        ws.write(f"stig-{file.name}", baselines.fill(file.read_text(), SITE))
    before = ws.vsr(capsys, "report")
    assert before.code == 2
    lockout = results(before)[("DC0_C0_H2", "esxi-8.account-lockout")]
    assert (lockout["status"], lockout["current"], lockout["desired"]) == ("fail", 5, 3)  # the STIG value
    ws.vsr(capsys, "apply")
    after = ws.vsr(capsys, "report")
    left = {(r["control"], r["status"]) for r in guest_rows_ok(after.json["results"])
            if r["status"] not in ("pass", "pending")}
    # the simulated hosts are joined to no domain, and ESXI-80-000049 (activeDirectory.domain) is audit only
    assert left == SIMULATOR_LIMITS | {("ESXI-80-000049", "fail")}, left
    assert results(after)[("DC0_C0_H2", "ESXI-80-000049")]["reason"] == "audit"
    assert results(after)[("DC0_C0_H2", "ESXI-80-000241")]["status"] == "pass"  # esxAdminsGroup from site.yaml


def _scg9_ids(row: dict) -> set[str]:
    return {i for i in row["controls"] if i.split("-", 1)[0] in ("esx", "vm", "vcenter", "guest") and "-9." in i}


def test_scg9_reports_audit_rows_enforces_modify_rows_and_converges_on_the_drift_simulator(
        tmp_path, sim_factory, capsys, guest_flags):
    """SCG 9 on the `-drift` simulator: the Modify rows go from failures to pass; the Audit rows are reported
    (reason audit) and left alone; once the audit policies are switched to Enforce every manageable row passes."""
    from reconciler import catalog

    ws = Workspace(tmp_path, sim_factory("-drift", *guest_flags))
    for file in sorted((ROOT / "specs/baselines/scg-9").glob("*.yaml")):
        ws.write(f"scg-9-{file.name}", baselines.fill(file.read_text(), SITE))
    ws.policy("site-firmware", """
        selector: {vms: ["*"]}
        priority: 10
        secureBoot: true
        allowFirmwareChange: true
    """, kind="VMSecurityPolicy")
    si = ws.sim.connect()
    WaitForTask(by_name(si, vim.VirtualMachine, POWERED_OFF_VM).PowerOffVM_Task())

    before = ws.vsr(capsys, "report")
    assert before.code == 2, before.err
    rows = results(before)
    ceip = rows[("DC0_C0_H0", "esx-9.ceip-disable")]  # new in SCG 9: its own primary control
    assert (ceip["status"], ceip["current"], ceip["desired"], ceip["reason"]) == ("fail", 0, 2, None)
    assert ceip["controls"] == ["esx-9.ceip-disable"] and ceip["source"].endswith("scg-9-host.yaml:22")
    ssh = rows[("DC0_C0_H0", "esxi-8.deactivate-ssh")]  # an SCG 9 Audit row: reported, not enforced
    assert (ssh["status"], ssh["reason"], ssh["policy"]) == ("fail", "audit", "scg-9-host-audit")
    assert ssh["controls"] == ["esxi-8.deactivate-ssh", "ESXI-80-000193", "esx-9.ssh", "VCFE-9X-000096"]
    pwd = rows[("DC0_C0_H0", "esx-9.password-complexity")]
    assert pwd["status"] == "fail" and pwd["controls"] == ["esx-9.password-complexity", "VCFE-9X-000035"]

    ws.vsr(capsys, "apply")
    after = ws.vsr(capsys, "report")
    manageable = {c.id for c in catalog.controls() if c.guide == "scg-9" and c.fields and c.default_enabled}
    assessed: set[str] = set()
    left: set[str] = set()
    for r in after.json["results"]:
        ids = _scg9_ids(r)
        assessed |= ids
        if not guest_rows_ok([r]):  # a guest row: Audit in the shipped baseline (checked by guest_rows_ok)
            continue
        if r["status"] in ("pass", "pending"):
            continue
        assert r["status"] == "fail", r
        # only Audit rows stay failing, and only for the reason audit
        assert all(f["reason"] == "audit" for f in r["fields"] if f["status"] == "fail"), r
        assert ids and all(catalog.by_id()[i].audit_only for i in ids), r
        left |= ids
    # guestoperations is left out of the guest baseline: it ends vsr's own access (specs/baselines/scg-9/guest.yaml)
    assert manageable - assessed == {"esx-9.log-persistent", "esx-9.log-audit-persistent",
                                     "guest-9.tools-deactivate-guestoperations"}
    # what the -drift simulator breaks among the Audit rows, plus ESXi 8 defaults that differ from SCG 9's
    assert {"esx-9.ssh", "esx-9.deactivate-shell", "esx-9.transparent-page-sharing", "esx-9.deactivate-mob",
            "esx-9.shell-warning", "esx-9.network-standard-reject-promiscuous-mode",
            "vcenter-9.network-reject-promiscuous-mode-dvportgroup", "esx-9.password-max-age",
            "esx-9.vib-trusted-binaries"} <= left, left
    assert "vm-9.deactivate-console-copy" not in left, "TRUE or Undefined: -drift's VM0 without the key passes"
    assert results(after)[("DC0_C0_H0", "esx-9.ceip-disable")]["status"] == "pass"
    assert service(host(si, "DC0_C0_H0"), "TSM-SSH").running is True  # audited, not changed
    assert option(host(si, "DC0_C0_H0"), "UserVars.HostClientCEIPOptIn") == 2

    # the operator decides to enforce the audit rows too: every manageable row then passes
    for file in sorted(ws.specs.glob("scg-9-*.yaml")):
        file.write_text(file.read_text().replace("enforcement: Audit", "enforcement: Enforce"))
    ws.vsr(capsys, "apply")
    final = ws.vsr(capsys, "report")
    still = {(r["control"], r["status"]) for r in final.json["results"] if r["status"] not in ("pass", "pending")
             and not (r["status"] == "unsupported" and r["object"]["name"] == POWERED_OFF_VM)}
    assert still == SIMULATOR_LIMITS, still
    for r in final.json["results"]:
        if r["status"] == "pending" and r["object"]["type"] == "HostSystem":  # waits for a host reboot
            assert all(f["reason"] == "needsReboot" for f in r["fields"] if f["status"] == "pending"), r
        elif r["status"] == "pending":
            assert r["object"]["type"] == "VirtualMachine" and r["object"]["name"] != POWERED_OFF_VM, r
    assert service(host(si, "DC0_C0_H0"), "TSM-SSH").running is False


def test_attestations_are_reported_as_attested_and_expired_ones_stop_counting(tmp_path, sim_factory, capsys):
    ws = Workspace(tmp_path, sim_factory("-drift"))
    for file in sorted((ROOT / "specs/baselines/scg-9").glob("*.yaml")):
        ws.write(f"scg-9-{file.name}", baselines.fill(file.read_text(), SITE))
    ws.write("attestations.yaml", """\
apiVersion: vsr.dev/v1alpha1
kind: Attestation
metadata: {name: firmware}
spec:
  selector: {clusters: ["DC0_C0"], hosts: ["*"]}
  controls: [esx-9.hardware-boot-order, VCFE-9X-000152, esx-9.hardware-management-config-lock]
  statement: "boot order, vMotion network isolation and BMC configuration lock verified"
  evidence: https://tickets.example.com/SEC-901
  owner: platform@example.com
  expires: 2099-12-31
---
apiVersion: vsr.dev/v1alpha1
kind: Attestation
metadata: {name: patching}
spec:
  selector: {hosts: ["*"]}
  controls: [esx-9.updates]
  statement: "monthly patch window, change CHG-1"
  evidence: https://tickets.example.com/CHG-1
  owner: platform@example.com
  expires: 2020-01-31
""")
    run = ws.vsr(capsys, "report")
    assert run.code == 2
    rows = results(run)
    hosts = sorted({r["object"]["name"] for r in run.json["results"] if r["object"]["type"] == "HostSystem"})
    in_cluster = [h for h in hosts if h.startswith("DC0_C0_")]
    assert in_cluster and len(hosts) > len(in_cluster)
    for name in hosts:
        for control in ("esx-9.hardware-boot-order", "esx-9.vmk-vmotion", "esx-9.hardware-management-config-lock"):
            row = rows.get((name, control))
            if name in in_cluster:
                assert row["status"] == "attested" and row["policy"] == "firmware", row
                assert row["source"].endswith("attestations.yaml:1") and "SEC-901" in row["message"]
            else:
                assert row is None
        updates = rows[(name, "esx-9.updates")]
        assert (updates["status"], updates["reason"]) == ("fail", "attestationExpired")
        assert "EXPIRED on 2020-01-31" in updates["message"]
    assert run.json["summary"]["attested"] == 3 * len(in_cluster)
    assert any(i["message"].startswith("attestation expired on 2020-01-31") for i in run.json["specIssues"])
    html = tmp_path / "report.html"
    ws.vsr(capsys, "report", "-o", "html", "--file", str(html))
    assert "attested" in html.read_text()
