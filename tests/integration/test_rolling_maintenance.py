"""Rolling maintenance end to end on the simulator: a 4-host cluster whose TLS profile (reboot impact) drifts,
`remediation: {maintenanceMode: Allowed, reboot: Allowed, maxHostsInParallel: 1}`; `vsr apply` takes one host at a
time through pre-check -> maintenance mode (VMs evacuated) -> write -> reboot -> reconnect -> verify -> exit,
watched through a PropertyCollector of its own. A standalone host with powered-on VMs fails the pre-check: the
window stops, nothing is written, the failure is an event."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pyVmomi import vim, vmodl

from harness import Workspace, host
from simulator import start_simulator
from test_esxcli_controls import get
from test_esxcli_controls import kernel as get_kernel_rows

pytestmark = pytest.mark.integration

CLUSTER = [f"DC0_C0_H{i}" for i in range(4)]


@pytest.fixture(scope="module")
def vc():
    handle = start_simulator("-host", "4", "-reboot-seconds", "0.3")
    yield handle
    handle.stop()


class Watch(threading.Thread):
    """Every host's runtime.inMaintenanceMode and every VM's runtime.host, replayed update by update: the most
    hosts in maintenance mode at once, and any moment a powered-on VM sat on a host in maintenance mode."""

    def __init__(self, si: Any):
        super().__init__(daemon=True)
        pcq = vmodl.query.PropertyCollector
        content = si.RetrieveContent()
        self.view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem, vim.VirtualMachine], True)
        self.pc = content.propertyCollector.CreatePropertyCollector()
        trav = pcq.TraversalSpec(name="view", type=vim.view.ContainerView, path="view", skip=False)
        self.pc.CreateFilter(pcq.FilterSpec(
            objectSet=[pcq.ObjectSpec(obj=self.view, skip=True, selectSet=[trav])],
            propSet=[pcq.PropertySpec(type=vim.HostSystem, pathSet=["name", "runtime.inMaintenanceMode"]),
                     pcq.PropertySpec(type=vim.VirtualMachine, pathSet=["runtime.host", "runtime.powerState"])]),
            partialUpdates=True)
        self.mm: dict[str, bool] = {}
        self.names: dict[str, str] = {}
        self.vm_host: dict[str, str] = {}
        self.vm_on: dict[str, bool] = {}
        self.max_in_mm = 0
        self.entered: list[str] = []
        self.moves = 0
        self.crowded: list[str] = []
        self.stop = threading.Event()
        self.version = ""
        self._apply(self.pc.WaitForUpdatesEx("", pcq.WaitOptions(maxWaitSeconds=0)), initial=True)

    def _apply(self, res: Any, initial: bool = False) -> None:
        if res is None:
            return
        self.version = res.version
        for fs in res.filterSet:
            for obj in fs.objectSet:
                moid = obj.obj._moId
                for ch in obj.changeSet:
                    if ch.name == "name":
                        self.names[moid] = ch.val
                    elif ch.name == "runtime.inMaintenanceMode":
                        if ch.val and not self.mm.get(moid) and not initial:
                            self.entered.append(moid)
                        self.mm[moid] = bool(ch.val)
                    elif ch.name == "runtime.host":
                        if not initial and self.vm_host.get(moid) != ch.val._moId:
                            self.moves += 1
                        self.vm_host[moid] = ch.val._moId
                    elif ch.name == "runtime.powerState":
                        self.vm_on[moid] = ch.val == "poweredOn"
        self.max_in_mm = max(self.max_in_mm, sum(self.mm.values()))
        self.crowded += [vm for vm, h in self.vm_host.items() if self.vm_on.get(vm) and self.mm.get(h)]

    def run(self) -> None:
        pcq = vmodl.query.PropertyCollector
        while not self.stop.is_set():
            self._apply(self.pc.WaitForUpdatesEx(self.version, pcq.WaitOptions(maxWaitSeconds=1)))

    def finish(self) -> None:
        self.stop.set()
        self.join(5)
        self.pc.DestroyPropertyCollector()


def test_a_four_host_cluster_is_remediated_one_host_at_a_time(vc, tmp_path, capsys):
    ws = Workspace(tmp_path, vc)
    ws.policy("tls", '''
        selector: {clusters: ["DC0_C0"]}
        tls: {profile: NIST_2024}
        remediation: {maintenanceMode: Allowed, reboot: Allowed, maxHostsInParallel: 1}
    ''')
    plan = ws.vsr(capsys, "plan")
    assert plan.code == 2, plan.out + plan.err
    notes = [n for n in plan.json["notes"] if "rolling maintenance" in n]
    assert len(notes) == 4 and all("pre-check ok: 2 powered-on VM(s) can move to 3 other host(s)" in n for n in notes)

    si = vc.connect()
    watch = Watch(si)
    watch.start()
    try:
        applied = ws.vsr(capsys, "apply")
    finally:
        watch.finish()
    assert applied.code == 0, applied.out + applied.err
    assert [c["outcome"] for c in applied.changes(path="tls.profile")] == ["applied"] * 4

    assert watch.max_in_mm == 1                      # never two hosts in maintenance mode at once
    assert sorted(watch.names[m] for m in watch.entered) == CLUSTER  # each host once
    assert watch.moves >= 8 and watch.crowded == []  # VMs evacuated before each host entered maintenance mode
    for name in CLUSTER:
        h = host(si, name)
        assert h.runtime.inMaintenanceMode is False and h.runtime.connectionState == "connected"
        boot = get(h, "system tls server")
        assert (boot["Profile"], boot["RebootRequired"]) == ("NIST_2024", "false")  # rebooted: in effect
    steps = [(e.object.name, e.reason) for e in ws.events() if e.reason.startswith(("Maintenance", "Host"))]
    per_host = ["MaintenancePrecheckPassed", "MaintenanceModeEntered", "HostRebooting", "HostReconnected",
                "MaintenanceVerified", "MaintenanceModeExited"]
    assert sorted(steps, key=lambda s: CLUSTER.index(s[0])) == [(n, r) for n in CLUSTER for r in per_host]
    assert ws.vsr(capsys, "plan").code == 0


def test_a_host_that_cannot_be_evacuated_stops_the_window_and_nothing_is_written(vc, tmp_path, capsys):
    ws = Workspace(tmp_path, vc)
    ws.policy("tls", '''
        selector: {hosts: ["DC0_H0"]}
        tls: {profile: NIST_2024}
        remediation: {maintenanceMode: Allowed, reboot: Allowed}
    ''')
    plan = ws.vsr(capsys, "plan")
    (note,) = [n for n in plan.json["notes"] if "rolling maintenance" in n]
    assert "DC0_H0 (standalone): pre-check refuses: 2 powered-on VM(s) cannot be evacuated" in note
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 1, applied.out
    (change,) = applied.changes(name="DC0_H0", path="tls.profile")
    assert change["outcome"] == "failed" and "pre-check failed" in change["error"], change
    h = host(vc.connect(), "DC0_H0")
    assert h.runtime.inMaintenanceMode is False
    assert get(h, "system tls server")["Profile"] == "COMPATIBLE"
    (event,) = ws.events(reason="MaintenanceFailed")
    assert event.type == "Warning" and "the window stops" in event.message
    assert ws.events(reason="RemediationStarted") == []  # no intent: nothing was to be written


def test_max_hosts_in_parallel_two_lets_two_hosts_of_the_cluster_in_at_once(vc, tmp_path, capsys):
    ws = Workspace(tmp_path, vc)
    ws.policy("entropy", '''
        selector: {clusters: ["DC0_C0"]}
        kernel: {entropySources: 1}
        remediation: {maintenanceMode: Allowed, reboot: Allowed, maxHostsInParallel: 2}
    ''')
    si = vc.connect()
    watch = Watch(si)
    watch.start()
    try:
        applied = ws.vsr(capsys, "apply")
    finally:
        watch.finish()
    assert applied.code == 0, applied.out + applied.err
    assert [c["outcome"] for c in applied.changes(path="kernel.entropySources")] == ["applied"] * 4
    assert watch.max_in_mm == 2 and watch.crowded == []
    assert all(host(si, n).runtime.inMaintenanceMode is False for n in CLUSTER)


def test_a_failed_reboot_stops_the_window_and_leaves_the_host_in_maintenance_mode(sim_factory, tmp_path, capsys):
    two = sim_factory("-host", "2", "-standalone-host", "0", "-reboot-seconds", "0.1",
                      "-fail", "RebootHost_Task@DC0_C0_H0:1.0:RequestCanceled")
    ws = Workspace(tmp_path, two)
    ws.policy("tls", '''
        selector: {clusters: ["DC0_C0"]}
        tls: {profile: NIST_2024}
        remediation: {maintenanceMode: Allowed, reboot: Allowed}
    ''')
    applied = ws.vsr(capsys, "apply")
    assert applied.code == 1, applied.out
    (h0,) = applied.changes(name="DC0_C0_H0", path="tls.profile")
    assert h0["outcome"] == "failed" and "reboot failed: RequestCanceled" in h0["error"], h0
    assert "left in maintenance mode" in h0["error"]
    (h1,) = applied.changes(name="DC0_C0_H1", path="tls.profile")
    assert h1["outcome"] == "skipped" and "the window stopped at DC0_C0_H0" in h1["message"], h1
    si = two.connect()
    assert host(si, "DC0_C0_H0").runtime.inMaintenanceMode is True
    assert host(si, "DC0_C0_H1").runtime.inMaintenanceMode is False
    assert get(host(si, "DC0_C0_H1"), "system tls server")["Profile"] == "COMPATIBLE"  # not touched
    (event,) = ws.events(reason="MaintenanceFailed")
    assert event.object.name == "DC0_C0_H0" and event.type == "Warning"
    assert [e.object.name for e in ws.events(reason="MaintenanceModeEntered")] == ["DC0_C0_H0"]


def test_changes_written_earlier_and_pending_a_reboot_are_put_in_effect_by_a_window(vc, tmp_path, capsys):
    ws = Workspace(tmp_path, vc)
    spec = '''
        selector: {clusters: ["DC0_C0"]}
        kernel: {disableHwrng: true}
        remediation: {reboot: Allowed%s}
    '''
    ws.policy("hwrng", spec % "")
    written = ws.vsr(capsys, "apply")  # no maintenance mode allowed: written, pending the reboot nobody does
    assert written.code == 0, written.out + written.err
    assert {c["reason"] for c in written.changes(path="kernel.disableHwrng")} == {None}
    assert ws.vsr(capsys, "plan").changes(path="kernel.disableHwrng", reason="pendingReboot") != []
    ws.policy("hwrng", spec % ", maintenanceMode: Allowed")
    rebooted = ws.vsr(capsys, "apply")
    assert rebooted.code == 0, rebooted.out + rebooted.err
    got = rebooted.changes(path="kernel.disableHwrng")
    assert [(c["outcome"], c["reason"]) for c in got] == [("applied", None)] * 4, got
    si = vc.connect()
    for name in CLUSTER:
        row = get_kernel_rows(host(si, name))["disableHwrng"]
        assert (row["Configured"], row["Runtime"]) == ("TRUE", "TRUE")
        assert host(si, name).runtime.inMaintenanceMode is False
    assert ws.vsr(capsys, "plan").code == 0


def test_the_daemon_writes_reboot_changes_but_never_enters_maintenance_mode_or_reboots(vc, tmp_path):
    from harness import wait_for
    from test_daemon import Daemon, vcenter_doc

    target = "DC0_H0"
    h = host(vc.connect(), target)
    booted = h.runtime.bootTime
    d = Daemon(tmp_path / "d")
    (d.specs / "vc.yaml").write_text(vcenter_doc(vc, "sim", tmp_path / "creds"))
    (d.specs / "tls.yaml").write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: tls}\nspec:\n"
        f"  selector: {{hosts: [\"{target}\"]}}\n  tls: {{profile: NIST_2024}}\n"
        "  remediation: {maintenanceMode: Allowed, reboot: Allowed}\n")
    try:
        d.start().wait_ready()
        wait_for(lambda: d.events("DriftRemediated", target, "tls.profile"), 10.0,
                 f"the daemon writes the profile\n{d.log.read_text()}")
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
    now = get(h, "system tls server")
    assert (now["Profile"], now["RebootRequired"]) == ("NIST_2024", "true")  # written, waiting for a reboot
    assert h.runtime.inMaintenanceMode is False and h.runtime.bootTime == booted
