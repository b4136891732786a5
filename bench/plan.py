"""Benchmark: `vsr plan` against the floor (a raw bulk fetch of the same properties) and naive per-object access.

    make bench            # or: VSR_SIM_BIN=build/vsr-sim .venv/bin/python bench/plan.py [--clusters 4 --hosts 16 --vms 30]

Starts the simulator with 4 clusters x 16 hosts x 30 VMs per host (64 hosts, 1,920 VMs), then measures, in one run:
  floor   one ContainerView + RetrievePropertiesEx of every property the host controllers read, plus every host's
          OptionManager `setting`/`supportedOption` in one call (what any correct implementation must fetch)
  plan    the engine's full plan (entity tree, bulk fetch, prefetch, merge, diff) with every host controller active
  naive   per-object attribute access of the same properties (a loop over hosts, as scripts often do)
then the same floor/plan comparison for a VM policy over all 1,920 VMs, without and with `devices` (the device
list, `config.hardware.device`, dominates parsing and is fetched only when a policy manages devices), against the
bare floor and against a floor that also reads each VM's placement paths (what selectors need).
Prints a table; never asserts timings (targets: plan <= 1.3 x floor, naive / plan >= 10).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pyVmomi import vim, vmodl  # noqa: E402

from reconciler.api import load_specs  # noqa: E402
from reconciler.controllers import for_kind  # noqa: E402
from reconciler.engine import planner, sources  # noqa: E402
from reconciler.engine.policies import compile_documents  # noqa: E402
from reconciler.engine.runner import facts_of  # noqa: E402
from reconciler.vsphere import inventory  # noqa: E402
from reconciler.vsphere.connection import Connection  # noqa: E402
from reconciler.vsphere.settings import settings_from_spec  # noqa: E402
from simulator import start_simulator  # noqa: E402

POLICY = """
apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: bench}
spec:
  selector: {hosts: ["*"]}
  services: {TSM-SSH: {running: false, policy: "off"}, TSM: {running: false, policy: "off"}}
  firewall: {sshServer: {allowedIPs: ["192.168.10.0/24"]}}
  advancedSettings: {Mem.ShareForceSalting: 2, UserVars.ESXiShellInteractiveTimeOut: 900}
  lockdown: {mode: normal}
  networkSecurity: {allowPromiscuous: false, macChanges: false, forgedTransmits: false}
"""


VM_POLICY = """
apiVersion: vsr.dev/v1alpha1
kind: VMSecurityPolicy
metadata: {name: bench-vms}
spec:
  selector: {vms: ["*"]}
  advancedSettings: {isolation.tools.copy.disable: true, isolation.tools.paste.disable: true}
  minHardwareVersion: 19
  secureBoot: true
"""
VM_DEVICES = "  devices: {floppy: absent, serial: absent, parallel: absent, usb: absent, cdrom: disconnected}\n"


def paths_of(managed_type: str, controllers: list) -> list[str]:
    mine = [c for c in controllers if c.managed_type == managed_type]
    return sources.property_specs(mine, with_name=True)[sources.VIM_TYPES[managed_type]]


def host_paths() -> list[str]:
    return paths_of("HostSystem", for_kind("HostSecurityPolicy"))


def bulk(si: vim.ServiceInstance, vim_type: type, paths: list[str]) -> list:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    pc = content.propertyCollector
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[
            vmodl.query.PropertyCollector.TraversalSpec(name="v", type=vim.view.ContainerView, path="view")])],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim_type, pathSet=paths)])
    result = pc.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
    objects = list(result.objects)
    while result.token:
        result = pc.ContinueRetrievePropertiesEx(result.token)
        objects += result.objects
    view.DestroyView()
    return objects


def floor(si: vim.ServiceInstance, paths: list[str]) -> int:
    content = si.RetrieveContent()
    pc = content.propertyCollector
    objects = bulk(si, vim.HostSystem, paths)
    managers = [p.val for o in objects for p in o.propSet if p.name == "configManager.advancedOption"]
    om_spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=m) for m in managers],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.option.OptionManager,
                                                            pathSet=["setting", "supportedOption"])])
    pc.RetrievePropertiesEx([om_spec], vmodl.query.PropertyCollector.RetrieveOptions())
    return len(objects)


def vm_controllers(devices: bool) -> list:
    names = {"vmAdvancedSettings", "vmHardwareVersion", "vmSecureBoot"} | ({"vmDevices"} if devices else set())
    return [c for c in for_kind("VMSecurityPolicy") if c.name in names]


def vm_scenario(sim, conn, facts, devices: bool, repeat: int) -> tuple[float, float, float, int]:
    """(floor seconds, floor with placement seconds, plan seconds, changes) for the VM policy alone, with or
    without device policies. "With placement" adds the paths any selector-matching plan must read per VM
    (name, parent, runtime.host, resourcePool, config.template: folder, host, cluster, vApp, template)."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "vc.yaml").write_text(sim.vcenter_yaml("bench"))
        Path(tmp, "vm.yaml").write_text(VM_POLICY + (VM_DEVICES if devices else ""))
        loaded = load_specs([tmp])
        assert loaded.ok, loaded.errors
        specs = compile_documents(loaded.documents, dt.date.today())
    si = sim.connect()
    paths = paths_of("VirtualMachine", vm_controllers(devices))
    placed = list(dict.fromkeys([*paths, *inventory.entity_specs(vms=True)[vim.VirtualMachine]]))
    t_floor, _ = timed(lambda: bulk(si, vim.VirtualMachine, paths), repeat)
    t_placed, _ = timed(lambda: bulk(si, vim.VirtualMachine, placed), repeat)
    t_plan, vplan = timed(lambda: planner.plan_vcenter(conn, facts, specs.policies, specs.waivers), repeat)
    return t_floor, t_placed, t_plan, len(vplan.plan.changes)


def naive(si: vim.ServiceInstance) -> int:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    count = 0
    for host in view.view:
        _ = (host.name, host.runtime.connectionState, host.config.service, host.config.firewall,
             host.summary.managementServerIp, host.config.network.vswitch, host.config.network.portgroup,
             host.config.lockdownMode, host.configManager.advancedOption.setting,
             host.configManager.advancedOption.supportedOption)
        count += 1
    view.DestroyView()
    return count


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--vms", type=int, default=30, help="VMs per host")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    flags = ("-cluster", str(args.clusters), "-host", str(args.hosts), "-vm-per-host", str(args.vms),
             "-standalone-host", "0")
    started = time.perf_counter()
    with start_simulator(*flags) as sim, tempfile.TemporaryDirectory() as tmp:
        print(f"simulator {' '.join(flags)} ready in {time.perf_counter() - started:.1f} s")
        Path(tmp, "vc.yaml").write_text(sim.vcenter_yaml("bench"))
        Path(tmp, "policy.yaml").write_text(POLICY)
        loaded = load_specs([tmp])
        assert loaded.ok, loaded.errors
        specs = compile_documents(loaded.documents, dt.date.today())
        conn = Connection(settings_from_spec("bench", specs.vcenters["bench"].model.spec)).connect()
        facts = facts_of(conn, "bench")
        si = sim.connect()

        t_floor, hosts = timed(lambda: floor(si, host_paths()), args.repeat)
        t_plan, vplan = timed(lambda: planner.plan_vcenter(conn, facts, specs.policies, specs.waivers),
                              args.repeat)
        t_naive, _ = timed(lambda: naive(si), 1)
        vm_rows = [(devices, *vm_scenario(sim, conn, facts, devices, args.repeat)) for devices in (False, True)]
        conn.close()

    changes = len(vplan.plan.changes)
    rows = [("floor (bulk fetch)", t_floor, ""), ("vsr plan", t_plan, f"{changes} changes on {hosts} hosts"),
            ("naive per-object", t_naive, "")]
    print(f"\n{'what':<22}{'seconds':>10}  note")
    for name, seconds, note in rows:
        print(f"{name:<22}{seconds:>10.3f}  {note}")
    print(f"\nplan / floor = {t_plan / t_floor:.2f}  (target <= 1.3)")
    print(f"naive / plan = {t_naive / t_plan:.1f}  (target >= 10)")
    print(f"\n{'VM policy':<22}{'floor s':>10}{'+placement s':>14}{'plan s':>10}{'plan/floor':>12}"
          f"{'plan/+placement':>17}  changes")
    for devices, f, fp, p, n in vm_rows:
        label = "with devices" if devices else "without devices"
        print(f"{label:<22}{f:>10.3f}{fp:>14.3f}{p:>10.3f}{p / f:>12.2f}{p / fp:>17.2f}  {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
