"""Firmware security from the host's capability (SCG 9 esx-9.hardware-tpm, -secureboot, -cpu-intel-txt; SCG 8
esxi-8.secureboot): audited on a simulator whose hosts differ in firmware (`-no-tpm`, `-no-secure-boot`,
`-no-txt`), never written, and the simulator refuses Secure Boot enforcement on a host that did not boot with
Secure Boot, as ESXi does."""

from __future__ import annotations

import pytest
from pyVmomi import vim, vmodl

from harness import Workspace, host
from simulator import start_simulator
from test_esxcli_controls import get

pytestmark = pytest.mark.integration

NO_TPM, NO_SB, NO_TXT, CLEAN = "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "DC0_H0"


@pytest.fixture(scope="module")
def sim():
    handle = start_simulator("-no-tpm", NO_TPM, "-no-secure-boot", NO_SB, "-no-txt", NO_TXT)
    yield handle
    handle.stop()


def test_hardware_is_audited_per_host_and_never_written(sim, tmp_path, capsys):
    ws = Workspace(tmp_path, sim)
    ws.policy("firmware", 'selector: {hosts: ["*"]}\nhardware: {tpm2: true, uefiSecureBoot: true, txt: true}')
    plan = ws.vsr(capsys, "plan")
    assert plan.code == 2, plan.out + plan.err
    found = {(c["object"]["name"], c["path"]): (c["current"], c["reason"]) for c in plan.json["changes"]}
    assert found == {(NO_TPM, "hardware.tpm2"): ("none", "audit"),
                     (NO_SB, "hardware.uefiSecureBoot"): (False, "audit"),
                     (NO_TXT, "hardware.txt"): (False, "audit")}
    assert all("set in the server's firmware" in c["message"] for c in plan.json["changes"])
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 2 and all(c["outcome"] != "applied" for c in applied.json["changes"]), applied.out
    assert ws.events(reason="RemediationStarted") == []  # audit: no intent, no write
    assert ws.vsr(capsys, "plan", "--target", CLEAN).code == 0


def test_false_means_not_required(sim, tmp_path, capsys):
    ws = Workspace(tmp_path, sim)
    ws.policy("firmware", f'selector: {{hosts: ["{NO_SB}"]}}\nhardware: {{uefiSecureBoot: false, tpm2: true}}')
    assert ws.vsr(capsys, "plan").code == 0


def test_the_simulator_reports_capability_through_every_read_path(sim):
    si = sim.connect()
    h = host(si, NO_SB)
    assert h.capability.uefiSecureBoot is False and h.capability.tpmVersion == "2.0"  # Fetch of the whole value
    assert host(si, CLEAN).capability.uefiSecureBoot is True
    assert host(si, NO_TPM).capability.tpmSupported is False and not host(si, NO_TPM).capability.tpmVersion
    pcq = vmodl.query.PropertyCollector
    spec = pcq.FilterSpec(objectSet=[pcq.ObjectSpec(obj=h)],
                          propSet=[pcq.PropertySpec(type=vim.HostSystem, pathSet=["capability.uefiSecureBoot",
                                                                                  "capability.txtEnabled"])])
    content = si.RetrieveContent()
    (obj,) = content.propertyCollector.RetrievePropertiesEx([spec], pcq.RetrieveOptions()).objects
    assert {p.name: p.val for p in obj.propSet} == {"capability.uefiSecureBoot": False, "capability.txtEnabled": True}
    collector = content.propertyCollector.CreatePropertyCollector()  # a watcher's first (enter) update
    try:
        collector.CreateFilter(spec, partialUpdates=False)
        update = collector.WaitForUpdatesEx("", pcq.WaitOptions(maxWaitSeconds=0))
        (entered,) = update.filterSet[0].objectSet
        assert {c.name: c.val for c in entered.changeSet} == {"capability.uefiSecureBoot": False,
                                                              "capability.txtEnabled": True}
    finally:
        collector.DestroyPropertyCollector()


def test_secure_boot_enforcement_needs_a_host_booted_with_secure_boot(sim, tmp_path, capsys):
    ws = Workspace(tmp_path, sim)
    ws.policy("enforce", f'selector: {{hosts: ["{NO_SB}", "{CLEAN}"]}}\n'
                         "encryption: {mode: TPM, requireSecureBoot: true}")
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 1, applied.out
    refused = applied.changes(name=NO_SB)  # mode and enforcement go in one esxcli call, refused as a whole
    assert sorted(c["path"] for c in refused) == ["encryption.mode", "encryption.requireSecureBoot"]
    assert all(c["outcome"] == "failed" and "UEFI Secure Boot is not enabled on this host" in c["error"]
               for c in refused), refused
    si = sim.connect()
    assert get(host(si, CLEAN), "system settings encryption")["RequireSecureBoot"] == "true"
    assert (get(host(si, NO_SB), "system settings encryption")["Mode"],
            get(host(si, NO_SB), "system settings encryption")["RequireSecureBoot"]) == ("NONE", "false")
