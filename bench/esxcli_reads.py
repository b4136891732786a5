"""Benchmark: reading every esxcli-backed host setting (esxcli over the VIM API) of 64 and 1,000 hosts.

    VSR_SIM_BIN=build/vsr-sim .venv/bin/python bench/esxcli_reads.py [--sizes 64,1000] [--concurrency 4]

For each size, starts the simulator (vCenter, N hosts, no VMs) and measures with the engine's own path
(`engine.sources.read`: the controllers' `Polled(esxcli=...)` declarations, one executer per host, a host's commands
batched, `--concurrency` hosts at once):
  first poll   a new session: every host's executer is retrieved, then its commands run (9 per host)
  next poll    the executers are cached: what the daemon pays per poll interval (10 min by default)
Prints wall seconds, CPU seconds of this process, and ExecuteSoap calls per second. Never asserts (targets: all
settings of 64 hosts <= 2 s, of 1,000 hosts <= 10 s on this machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pyVmomi import vim  # noqa: E402

from reconciler import controllers as registry  # noqa: E402
from reconciler.controllers.contract import ObjectState  # noqa: E402
from reconciler.engine import sources  # noqa: E402
from reconciler.events.model import ObjectRef  # noqa: E402
from reconciler.vsphere import inventory  # noqa: E402
from reconciler.vsphere.connection import Connection  # noqa: E402
from reconciler.vsphere.settings import ConnectionSettings  # noqa: E402
from simulator import start_simulator  # noqa: E402

ESXCLI = [c for c in registry.ALL if c.polled and all(p.esxcli for p in c.polled)]


def connect(sim) -> Connection:
    from pydantic import SecretStr

    settings = ConnectionSettings(name="bench", host=sim.host, port=sim.port, username=sim.username,
                                  password=SecretStr(sim.password), verify=True, ca_file=str(sim.ca_file))
    return Connection(settings, pool_size=32).connect()


def poll(conn: Connection, hosts: dict, cache: sources.SourceCache) -> tuple[float, float, int]:
    targets = [(c, ObjectState(ObjectRef("HostSystem", moid, o.name or moid, "bench"), o.props, mo=o.ref))
               for moid, o in hosts.items() for c in ESXCLI]
    wall, cpu = time.perf_counter(), time.process_time()
    faults = sources.read(conn, targets, cache, fresh=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    read = sum(len(s.polled) for _, s in targets)
    assert not faults, next(iter(faults.values()))
    return wall, cpu, read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="64,1000")
    parser.add_argument("--concurrency", type=int, default=4, help="hosts read at once (poll_concurrency)")
    args = parser.parse_args()
    rows = []
    commands = sum(len(c.polled) for c in ESXCLI)
    for size in (int(s) for s in args.sizes.split(",")):
        clusters = max(1, size // 50) if size > 64 else 4
        per = size // clusters
        flags = ("-cluster", str(clusters), "-host", str(per), "-vm-per-host", "0", "-standalone-host", "0")
        started = time.perf_counter()
        with start_simulator(*flags) as sim:
            print(f"simulator {' '.join(flags)} ready in {time.perf_counter() - started:.1f} s", flush=True)
            conn = connect(sim)
            hosts = inventory.fetch(conn, vim.HostSystem, ["name"])
            cache = sources.SourceCache(poll_concurrency=args.concurrency)
            first = poll(conn, hosts, cache)
            steady = poll(conn, hosts, cache)
            conn.close()
        for label, (wall, cpu, read) in (("first poll", first), ("next poll", steady)):
            rows.append((len(hosts), label, wall, cpu, read))
    print(f"\n{commands} esxcli commands per host (every esxcli-backed setting), concurrency {args.concurrency}")
    print(f"{'hosts':>6}  {'what':<11}{'wall s':>9}{'cpu s':>9}{'reads':>8}{'reads/s':>9}")
    for hosts, label, wall, cpu, read in rows:
        print(f"{hosts:>6}  {label:<11}{wall:>9.2f}{cpu:>9.2f}{read:>8}{read / wall:>9.0f}")
    print("targets: 64 hosts <= 2 s, 1,000 hosts <= 10 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
