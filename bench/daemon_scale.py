"""Benchmark: `vsr plan` and the daemon at vCenter scale (issue 19 item 4): 64, 1,000 and 2,500 hosts.

    VSR_SIM_BIN=build/vsr-sim .venv/bin/python bench/daemon_scale.py [--sizes 64,1000,2500] [--trials 20]

For each size (64 = 4 clusters x 16 hosts x 30 VMs; 1,000 = 20 x 50 x 16; 2,500 = 50 x 50 x 16, 40,000 VMs) it
starts the simulator, then with a host policy (services, firewall, an advanced setting) and a VM policy
(extraConfig isolation settings):
  plan      `vsr plan` in a fresh process: wall time and peak RSS (ru_maxrss of that child)
  daemon    `vsr run` with the same specs: time from launch to `firstPassDone` in /status, the daemon's peak RSS
            (VmHWM in /proc/PID/status) after the first pass and after the trials
  settle    launch -> the work queue empty (/metrics workqueue_depth): the first pass's own writes come back
            through the watch as re-checks
  drift     after settling, `--trials` times: start SSH on a random host through pyVmomi, time until the journal holds a new
            DriftRemediated for that host (median, p90)
Prints a table per size and the growth of each figure from the smallest size; never asserts (targets: daemon
peak RSS <= 1.5 GB at 2,500 hosts, drift median <= 1 s after the first pass). The simulator pages
WaitForUpdatesEx by maxObjectUpdates (sim/collector.go), so the daemon's first sync arrives in pages of 1,000 object
updates. State the load average with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from pyVmomi import vim  # noqa: E402

from drift_latency import POLICIES  # noqa: E402 - the same host and VM policies as the latency bench
from simulator import start_simulator  # noqa: E402

VSR = str(Path(sys.executable).with_name("vsr"))
SIZES = {64: (4, 16, 30), 1000: (20, 50, 16), 2500: (50, 50, 16)}  # hosts: (clusters, hosts per cluster, VMs/host)


def status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def get(port: int, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return str(r.read().decode())
    except Exception:  # noqa: BLE001 - not up yet
        return ""


def first_pass_done(port: int) -> bool:
    body = get(port, "/status")
    if not body:
        return False
    status = json.loads(body)
    vcs = status.get("vcenters") or []
    return bool(status.get("firstPassDone")) or (bool(vcs) and all(v.get("firstPassDone") for v in vcs))


def queue_depth(port: int) -> int:
    """The daemon's work-queue depth (sum of `workqueue_depth` in /metrics); -1 if unknown."""
    lines = [line for line in get(port, "/metrics").splitlines() if line.startswith("workqueue_depth{")]
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in lines)) if lines else -1


def remediated(db: Path, name: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT COALESCE(SUM(count), 0) FROM events WHERE reason = 'DriftRemediated' "
                           "AND object_name = ?", (name,)).fetchone()
    return int(row[0])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def timed_child(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, proc.returncode


def measure(size: int, trials: int, timeout: float) -> dict[str, float]:
    clusters, hosts, vms = SIZES[size]
    flags = ("-cluster", str(clusters), "-host", str(hosts), "-vm-per-host", str(vms), "-standalone-host", "0")
    out: dict[str, float] = {"vms": float(size * vms)}
    t0 = time.perf_counter()
    with start_simulator(*flags, timeout=900) as sim, tempfile.TemporaryDirectory() as tmp:
        out["sim_start"] = time.perf_counter() - t0
        print(f"[{size}] simulator {' '.join(flags)} ready in {out['sim_start']:.1f} s", flush=True)
        specs = Path(tmp, "specs")
        specs.mkdir()
        (specs / "vc.yaml").write_text(sim.vcenter_yaml("bench"))  # the default request timeout (120 s)
        (specs / "policies.yaml").write_text(POLICIES)
        journal = Path(tmp, "journal.db")

        out["plan_s"], out["plan_rss"], code = timed_child([VSR, "plan", str(specs), "--journal",
                                                            str(Path(tmp, "plan.db"))])
        print(f"[{size}] vsr plan {out['plan_s']:.1f} s, peak {out['plan_rss']:.0f} MB, exit {code}", flush=True)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        started = time.perf_counter()
        daemon = subprocess.Popen([VSR, "run", str(specs), "--journal", str(journal), "--listen",
                                   f"127.0.0.1:{port}", "--log-level", "error"])
        try:
            while not first_pass_done(port):
                if daemon.poll() is not None:
                    raise SystemExit(f"daemon exited with {daemon.returncode}")
                if time.perf_counter() - started > timeout:
                    raise SystemExit(f"no first pass within {timeout} s")
                time.sleep(0.2)
            out["first_pass"] = time.perf_counter() - started
            out["hwm_first"] = status_mb(daemon.pid, "VmHWM")
            out["rss_first"] = status_mb(daemon.pid, "VmRSS")
            print(f"[{size}] first pass {out['first_pass']:.1f} s, peak {out['hwm_first']:.0f} MB, "
                  f"queue {queue_depth(port)}", flush=True)
            # the first pass's own writes come back through the watch as re-checks: wait for the queue to drain
            while queue_depth(port) > 0 and time.perf_counter() - started < timeout:
                time.sleep(0.2)
            out["settled"] = time.perf_counter() - started

            si = sim.connect()
            content = si.RetrieveContent()
            view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
            targets = [(h.name, h.configManager.serviceSystem) for h in view.view]
            view.DestroyView()
            latency: list[float] = []
            rng = random.Random(7)
            for name, system in rng.sample(targets, min(trials, len(targets))):
                before = remediated(journal, name)
                t1 = time.perf_counter()
                system.StartService(id="TSM-SSH")
                while time.perf_counter() - t1 < 60:
                    if remediated(journal, name) > before:
                        latency.append(time.perf_counter() - t1)
                        break
                    time.sleep(0.01)
            out["drift_median"] = statistics.median(latency) if latency else float("nan")
            out["drift_p90"] = pct(latency, 0.9)
            out["fixed"] = float(len(latency))
            out["trials"] = float(min(trials, len(targets)))
            print(f"[{size}] drift fixed {len(latency)}/{out['trials']:.0f}, median {out['drift_median']:.2f} s, "
                  f"p90 {out['drift_p90']:.2f} s", flush=True)
            out["hwm_after"] = status_mb(daemon.pid, "VmHWM")
            out["rss_after"] = status_mb(daemon.pid, "VmRSS")
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                daemon.kill()
    out["load"] = os.getloadavg()[0]
    return out


ROWS = [("simulator start", "sim_start", "s"), ("vsr plan", "plan_s", "s"), ("vsr plan peak RSS", "plan_rss", "MB"),
        ("daemon start -> firstPassDone", "first_pass", "s"), ("daemon start -> queue empty", "settled", "s"), ("daemon peak RSS (first pass)", "hwm_first", "MB"),
        ("daemon RSS after first pass", "rss_first", "MB"), ("drift fixed, median", "drift_median", "s"),
        ("drift fixed, p90", "drift_p90", "s"), ("daemon peak RSS after trials", "hwm_after", "MB"),
        ("load average (1 min) at end", "load", "")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="64,1000", help="comma-separated host counts among 64, 1000, 2500")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait for the first pass")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {size: measure(size, args.trials, args.timeout) for size in sizes}

    base = sizes[0]
    heads = [f"{s:,} ({int(results[s]['vms']):,})" for s in sizes]
    print(f"\n{'hosts (VMs)':<32}" + "".join(f"{h:>18}" for h in heads))
    for label, key, unit in ROWS:
        cells = "".join(f"{f'{results[s][key]:.2f} {unit}'.strip():>18}" for s in sizes)
        print(f"{label:<32}{cells}")
    fixed = [f"{int(results[s]['fixed'])}/{int(results[s]['trials'])}" for s in sizes]
    print(f"{'drift trials fixed':<32}" + "".join(f"{f:>18}" for f in fixed))
    if len(sizes) > 1:
        print(f"\ngrowth from {base:,} hosts (objects x{', x'.join(f'{s / base:.1f}' for s in sizes[1:])}):")
        for label, key, _ in ROWS[:-1]:
            ratios = ", ".join(f"x{results[s][key] / results[base][key]:.1f}" for s in sizes[1:])
            print(f"  {label:<30}{ratios}")
    print("\ntargets: daemon peak RSS <= 1,536 MB at 2,500 hosts; drift median <= 1 s after the first pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
