"""Benchmark: one poll of every guest's tools.conf (guestTools) over 1,920 VMs, by concurrency bound.

    VSR_SIM_BIN=build/vsr-sim .venv/bin/python bench/guest_poll.py [--clusters 4 --hosts 16 --vms 30]

Starts the simulator with 4 clusters x 16 hosts x 30 VMs per host (1,920 VMs, every guest with an account,
`-guests`), then plans a VMSecurityPolicy with a `guestTools` section over all VMs: per VM one
InitiateFileTransferFromGuest (SOAP) and one HTTPS GET of tools.conf, at most N at once (the daemon's
`poll_concurrency` per vCenter). Prints wall time, reads per second and the share of the default 10-minute poll
interval one full poll takes. Never asserts timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from reconciler.api import load_specs  # noqa: E402
from reconciler.controllers.contract import DEFAULT_POLL_INTERVAL  # noqa: E402
from reconciler.engine import planner, sources  # noqa: E402
from reconciler.engine.policies import compile_documents  # noqa: E402
from reconciler.engine.runner import facts_of  # noqa: E402
from reconciler.vsphere.connection import Connection  # noqa: E402
from reconciler.vsphere.settings import settings_from_spec  # noqa: E402
from simulator import start_simulator  # noqa: E402

POLICY = """
apiVersion: vsr.dev/v1alpha1
kind: VMSecurityPolicy
metadata: {{name: bench-guests}}
spec:
  selector: {{vms: ["*"]}}
  guestTools:
    credentials: {{username: root, passwordFile: "{pw}"}}
    appinfoDisabled: true
    containerinfoPollInterval: 0
    logHandler: syslog
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--vms", type=int, default=30, help="VMs per host")
    parser.add_argument("--concurrency", default="1,4,8,16", help="poll concurrency bounds to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pw = Path(tmp, "guest-pw")
        pw.write_text("bench-guest-pw")
        Path(tmp, "guests").write_text(f"* user=root password={pw}\n")
        flags = ("-cluster", str(args.clusters), "-host", str(args.hosts), "-vm-per-host", str(args.vms),
                 "-standalone-host", "0", "-guests", str(Path(tmp, "guests")))
        started = time.perf_counter()
        with start_simulator(*flags) as sim:
            print(f"simulator {' '.join(flags[:-2])} -guests FILE ready in {time.perf_counter() - started:.1f} s")
            specs_dir = Path(tmp, "specs")
            specs_dir.mkdir()
            (specs_dir / "vc.yaml").write_text(sim.vcenter_yaml("bench"))
            (specs_dir / "guests.yaml").write_text(POLICY.format(pw=pw))
            loaded = load_specs([specs_dir])
            assert loaded.ok, loaded.errors
            specs = compile_documents(loaded.documents, dt.date.today())
            conn = Connection(settings_from_spec("bench", specs.vcenters["bench"].model.spec),
                              pool_size=32).connect()
            facts = facts_of(conn, "bench")
            controllers = planner.active_controllers(specs.policies)
            entities, objects = planner.snapshot(conn, controllers)
            rows = []
            for n in (int(x) for x in args.concurrency.split(",")):
                cache = sources.SourceCache(poll_concurrency=n)
                start = time.perf_counter()
                vplan = planner.plan_objects(conn, facts, specs.policies, specs.waivers, objects, entities,
                                             cache=cache, fresh=True)
                seconds = time.perf_counter() - start
                read = sum(1 for po in vplan.objects if "toolsConf" in po.state.polled)
                problems = sum(1 for c in vplan.plan.changes if c.reason is not None and c.reason.value == "unsupported")
                rows.append((n, seconds, read, len(vplan.plan.changes), problems))
            conn.close()
    print(f"\n{'concurrency':>11}{'seconds':>10}{'reads/s':>10}{'VMs read':>10}{'changes':>9}{'unsupported':>12}"
          f"{'of 10 min':>11}")
    for n, seconds, read, changes, problems in rows:
        print(f"{n:>11}{seconds:>10.2f}{read / seconds:>10.0f}{read:>10}{changes:>9}{problems:>12}"
              f"{seconds / DEFAULT_POLL_INTERVAL:>11.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
