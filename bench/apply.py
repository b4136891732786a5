"""Benchmark: `vsr apply` in SOAP requests and seconds, against the plan that precedes it.

    VSR_SIM_BIN=build/vsr-sim .venv/bin/python bench/apply.py [--clusters 4 --hosts 16 --vms 0 --delay 5]

For each latency (no delay, then `-delay MS`), starts a fresh simulator with clusters x hosts (64 hosts by default),
plans a host policy that changes 5 fields on every host (services, firewall, an advanced setting), then applies it,
and prints for plan and apply: seconds and SOAP requests (counted by wrapping pyVmomi's `SoapStubAdapter.InvokeMethod`
in this process only), plus the apply's writes (requests that are neither reads nor task waiting) and outcomes.
With `--with-vms` the same for a VM policy over every VM (advanced settings through ReconfigVM_Task: task waits).
Prints figures, never asserts (targets, issue 19: apply requests <= writes + 20; with -delay 5, apply <= 2 x plan).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pyVmomi import SoapAdapter  # noqa: E402

from reconciler.api import load_specs  # noqa: E402
from reconciler.engine import executor, planner  # noqa: E402
from reconciler.engine.policies import compile_documents  # noqa: E402
from reconciler.engine.runner import facts_of  # noqa: E402
from reconciler.vsphere.connection import Connection  # noqa: E402
from reconciler.vsphere.settings import settings_from_spec  # noqa: E402
from simulator import start_simulator  # noqa: E402

HOST_POLICY = """
apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: bench-apply}
spec:
  selector: {hosts: ["*"]}
  services: {TSM-SSH: {running: true, policy: "on"}, TSM: {running: true, policy: "on"}}
  advancedSettings: {UserVars.ESXiShellInteractiveTimeOut: 900}
"""
VM_POLICY = """
apiVersion: vsr.dev/v1alpha1
kind: VMSecurityPolicy
metadata: {name: bench-apply-vms}
spec:
  selector: {vms: ["*"]}
  advancedSettings: {isolation.tools.copy.disable: false, isolation.tools.paste.disable: false}
"""
#: requests that read state or wait for tasks; everything else is counted as a write
READS = {"RetrievePropertiesEx", "ContinueRetrievePropertiesEx", "CancelRetrievePropertiesEx", "RetrieveContents",
         "CreateContainerView", "CreateListView", "ModifyListView", "DestroyView", "CreatePropertyCollector",
         "DestroyPropertyCollector", "CreateFilter", "DestroyPropertyFilter", "WaitForUpdatesEx",
         "QueryLockdownExceptions", "RetrieveServiceContent", "CurrentTime", "Login", "Logout"}


class Counter:
    """Counts SOAP requests by method name (all threads of this process)."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.original = SoapAdapter.SoapStubAdapter.InvokeMethod
        counter = self

        def invoke(stub, mo, info, args, outerStub=None):  # noqa: N803 - pyVmomi's signature
            with counter.lock:
                counter.calls[info.wsdlName] += 1
            return counter.original(stub, mo, info, args, outerStub)

        SoapAdapter.SoapStubAdapter.InvokeMethod = invoke

    def take(self) -> collections.Counter[str]:
        with self.lock:
            out, self.calls = self.calls, collections.Counter()
        return out


def scenario(counter: Counter, flags: tuple[str, ...], policy: str) -> dict[str, object]:
    with start_simulator(*flags) as sim, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "vc.yaml").write_text(sim.vcenter_yaml("bench"))
        Path(tmp, "policy.yaml").write_text(policy)
        loaded = load_specs([tmp])
        assert loaded.ok, loaded.errors
        specs = compile_documents(loaded.documents, dt.date.today())
        conn = Connection(settings_from_spec("bench", specs.vcenters["bench"].model.spec)).connect()
        facts = facts_of(conn, "bench")
        counter.take()
        start = time.perf_counter()
        vplan = planner.plan_vcenter(conn, facts, specs.policies, specs.waivers)
        t_plan = time.perf_counter() - start
        plan_calls = counter.take()
        start = time.perf_counter()
        executor.apply_plan(conn, vplan, concurrency=8)
        t_apply = time.perf_counter() - start
        apply_calls = counter.take()
        conn.close()
    outcomes = collections.Counter(c.outcome.value for c in vplan.plan.changes)
    return {"plan_s": t_plan, "apply_s": t_apply, "plan_calls": plan_calls, "apply_calls": apply_calls,
            "changes": len(vplan.plan.changes), "objects": len({c.object.moid for c in vplan.plan.changes}),
            "outcomes": dict(outcomes)}


def report(label: str, r: dict[str, object], verbose: bool) -> None:
    apply_calls: collections.Counter[str] = r["apply_calls"]  # type: ignore[assignment]
    plan_calls: collections.Counter[str] = r["plan_calls"]  # type: ignore[assignment]
    writes = sum(n for m, n in apply_calls.items() if m not in READS)
    total = sum(apply_calls.values())
    print(f"{label:<26}{r['objects']:>8}{r['changes']:>8}{sum(plan_calls.values()):>11}{r['plan_s']:>9.3f}"
          f"{total:>12}{writes:>8}{total - writes:>8}{r['apply_s']:>9.3f}{r['apply_s'] / r['plan_s']:>12.2f}")
    print(f"{'':<26}outcomes {r['outcomes']}")
    if verbose:
        print(f"{'':<26}apply requests {dict(apply_calls.most_common())}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=16, help="hosts per cluster")
    parser.add_argument("--vms", type=int, default=2, help="VMs per host in the inventory")
    parser.add_argument("--with-vms", action="store_true", help="also a VM policy over every VM (task waits)")
    parser.add_argument("--delay", type=int, default=5, help="ms for the -delay run (0: skip it)")
    parser.add_argument("--verbose", action="store_true", help="print the requests by method")
    args = parser.parse_args()
    counter = Counter()
    base = ("-cluster", str(args.clusters), "-host", str(args.hosts), "-vm-per-host", str(args.vms),
            "-standalone-host", "0")
    runs = [("", ())] + ([(f" -delay {args.delay}", ("-delay", str(args.delay)))] if args.delay else [])
    print(f"simulator {' '.join(base)}")
    print(f"{'scenario':<26}{'objects':>8}{'changes':>8}{'plan req':>11}{'plan s':>9}"
          f"{'apply req':>12}{'writes':>8}{'other':>8}{'apply s':>9}{'apply/plan':>12}")
    for suffix, extra in runs:
        report("hosts" + suffix, scenario(counter, base + extra, HOST_POLICY), args.verbose)
        if args.with_vms:
            report("vms -drift" + suffix, scenario(counter, base + extra + ("-drift",), VM_POLICY), args.verbose)
    print("\ntargets: apply requests <= writes + 20 (64 hosts); with -delay 5, apply / plan <= 2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
