"""Start-up time of `vsr` (issue 14 item 10): `vsr --version`, `vsr --help`, `vsr validate` on a small spec.

    python bench/startup.py [--runs N]

Runs each command N times in a fresh interpreter and prints the best and median wall time. A measurement, not a
test: the machine's load decides the absolute figures; the best of N is the least noisy."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "vsr --version": ["--version"],
    "vsr --help": ["--help"],
    "vsr validate examples/quickstart": ["validate", str(ROOT / "examples" / "quickstart")],
    "vsr explain HostSecurityPolicy": ["explain", "HostSecurityPolicy"],
}


def measure(args: list[str], runs: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reconciler.cli", *args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    python = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=False)
        python.append(time.perf_counter() - start)
    print(f"{'python -c pass':40s} best {min(python):.3f} s  median {statistics.median(python):.3f} s")
    for name, argv in CASES.items():
        times = measure(argv, args.runs)
        print(f"{name:40s} best {min(times):.3f} s  median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
