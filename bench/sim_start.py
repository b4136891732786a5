"""Benchmark: how long the simulator takes to start an inventory of a given size, and how much memory it holds.

    VSR_SIM_BIN=build/vsr-sim .venv/bin/python bench/sim_start.py --cluster 50 --host 50 --vm-per-host 16

Starts `vsr-sim` (TLS, credentials as files, as the tests do) with `-cluster`, `-host`, `-vm-per-host`,
`-standalone-host` (default 0, so the counts are exactly cluster × host) and any `--flag` passed after `--`, then
prints:
  ready     launch → URL printed on stdout (inventory built, listening)
  login     launch → first successful pyVmomi login (SmartConnect, verified TLS)
  CPU       the simulator's user + system CPU time until ready (wall time grows with other load, this does not)
  inventory the host and VM counts the simulator reports
  RSS       VmRSS when ready and after the login, VmHWM (peak resident set while building), from /proc/PID/status
Never asserts; the figures depend on the machine (docs/simulator.md lists measured ones).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from simulator import start_simulator  # noqa: E402


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of process ``pid`` in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (robust against a loaded machine, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dc", type=int, default=1)
    ap.add_argument("--cluster", type=int, default=1, help="clusters per datacenter")
    ap.add_argument("--host", type=int, default=3, help="hosts per cluster")
    ap.add_argument("--vm-per-host", type=int, default=2)
    ap.add_argument("--standalone-host", type=int, default=0, help="standalone hosts per datacenter")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the URL")
    ap.add_argument("extra", nargs="*", help="more simulator flags (after --)")
    args = ap.parse_args()

    flags = ["-dc", str(args.dc), "-cluster", str(args.cluster), "-host", str(args.host),
             "-vm-per-host", str(args.vm_per_host), "-standalone-host", str(args.standalone_host), *args.extra]
    print("vsr-sim", " ".join(flags), flush=True)
    started = time.monotonic()
    handle = start_simulator(*flags, timeout=args.timeout)
    ready = time.monotonic() - started
    try:
        pid = handle.process.pid
        at_ready = proc_status(pid)
        cpu = cpu_seconds(pid)
        handle.connect()
        login = time.monotonic() - started
        after_login = proc_status(pid)
        match = re.search(r"ready in (\S+) \((\d+) hosts, (\d+) VMs\)", handle.log())
        print(f"ready      {ready:8.2f} s   (simulator's own figure: {match.group(1) if match else '?'})")
        print(f"login      {login:8.2f} s")
        print(f"CPU        {cpu:8.2f} s   (user + system until ready; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f})")
        if match:
            print(f"inventory  {int(match.group(2)):,} hosts, {int(match.group(3)):,} VMs")
        print(f"RSS        {mib(at_ready['VmRSS'])} when ready, {mib(after_login['VmRSS'])} after login, "
              f"peak {mib(after_login['VmHWM'])}")
    finally:
        code = handle.stop(timeout=60)
    print(f"exit       {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
