"""`ftEncryptionMode` (SCG vm-8/vm-9.ft-encrypted, VMCH-80-000204, VCFV-9X-000209) end to end: the simulator
models config.ftEncryptionMode (vSphere 7.0.2+, missing from its govmomi) per VM with vSphere's default, rejects
unknown values as vCenter does, and publishes changes; drift -> plan -> apply -> read back -> plan 0, and the
daemon puts back an out-of-band change it sees through the property collector."""

from __future__ import annotations

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from harness import Workspace, by_name, wait_for
from simulator import start_simulator
from test_daemon import Daemon

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim():
    with start_simulator() as handle:
        yield handle


def vm(si, name):
    return by_name(si, vim.VirtualMachine, name)


def reconfigure(si, name, **spec):
    WaitForTask(vm(si, name).ReconfigVM_Task(spec=vim.vm.ConfigSpec(**spec)))


def read_mode(si, name) -> str:
    """config.ftEncryptionMode through RetrievePropertiesEx (the path vsr reads)."""
    pcq = vmodl.query.PropertyCollector
    spec = pcq.FilterSpec(objectSet=[pcq.ObjectSpec(obj=vm(si, name))],
                          propSet=[pcq.PropertySpec(type=vim.VirtualMachine, pathSet=["config.ftEncryptionMode"])])
    (obj,) = si.RetrieveContent().propertyCollector.RetrievePropertiesEx([spec], pcq.RetrieveOptions()).objects
    return {p.name: p.val for p in obj.propSet}["config.ftEncryptionMode"]


def test_the_simulator_models_the_mode_with_vsphere_semantics(sim):
    si = sim.connect()
    name = "DC0_H0_VM1"
    assert vm(si, name).config.ftEncryptionMode == "ftEncryptionOpportunistic"  # the default, in Fetch of config
    reconfigure(si, name, ftEncryptionMode="ftEncryptionDisabled", annotation="ft off")
    assert (read_mode(si, name), vm(si, name).config.annotation) == ("ftEncryptionDisabled", "ft off")
    with pytest.raises(vmodl.fault.InvalidArgument) as bad:
        reconfigure(si, name, ftEncryptionMode="ftSometimes", annotation="not applied")
    assert bad.value.invalidProperty == "spec.ftEncryptionMode"
    assert (read_mode(si, name), vm(si, name).config.annotation) == ("ftEncryptionDisabled", "ft off")
    assert read_mode(si, "DC0_H0_VM0") == "ftEncryptionOpportunistic"  # per VM


def test_ft_encryption_converges(sim, tmp_path, capsys):
    si = sim.connect()
    name = "DC0_C0_H1_VM1"
    reconfigure(si, name, ftEncryptionMode="ftEncryptionDisabled")
    ws = Workspace(tmp_path, sim)
    ws.policy("ft", f'selector: {{vms: ["{name}"]}}\nftEncryptionMode: ftEncryptionRequired', kind="VMSecurityPolicy")
    plan = ws.vsr(capsys, "plan")
    (change,) = plan.changes(name=name)
    assert plan.code == 2 and (change["path"], change["current"], change["desired"], change["impact"]) == (
        "ftEncryptionMode", "ftEncryptionDisabled", "ftEncryptionRequired", "none")
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 0 and applied.changes(name=name)[0]["outcome"] == "applied", applied.out
    assert read_mode(si, name) == "ftEncryptionRequired"
    again = ws.vsr(capsys, "plan")
    assert again.code == 0 and again.json["changes"] == []


def test_the_daemon_sees_an_out_of_band_change_and_remediates(sim, tmp_path):
    si = sim.connect()
    name = "DC0_C0_H2_VM0"
    d = Daemon.for_sim(tmp_path / "d", sim, vm=(
        "apiVersion: vsr.dev/v1alpha1\nkind: VMSecurityPolicy\nmetadata: {name: ft}\nspec:\n"
        f'  selector: {{vms: ["{name}"]}}\n  ftEncryptionMode: ftEncryptionRequired\n'))
    try:
        d.start().wait_ready()
        wait_for(lambda: read_mode(si, name) == "ftEncryptionRequired", 10, f"first pass\n{d.log.read_text()}")
        reconfigure(si, name, ftEncryptionMode="ftEncryptionDisabled")
        # the detection is journaled with the fix's outcome, after the write: wait for the event, not the value
        wait_for(lambda: any(e.current == "ftEncryptionDisabled"
                             for e in d.events("DriftDetected", name, "ftEncryptionMode"))
                 and read_mode(si, name) == "ftEncryptionRequired", 5,
                 f"remediated from the property update, well before a resync\n{d.log.read_text()}")
    finally:
        d.stop()
