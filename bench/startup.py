"""Start-up time of `vsr` (issue 14 item 10): `vsr --version`, `vsr --help`, `vsr validate` on a small spec.

    python bench/startup.py [--runs N]

Runs each command N times in a fresh interpreter and prints the best and median wall time, then where the time of
`vsr validate` goes (CPU time of importing reconciler.api, i.e. pydantic, PyYAML and the spec models, against
loading and validating the spec), and the load average. A measurement, not a test: the machine's load decides the
absolute figures; the best of N is the least noisy. `python -X importtime -m reconciler.cli validate ...` gives
the per-module import times.

The spec models use pydantic's `defer_build=True`: a model's validator is built the first time a document of its
kind is validated, so importing reconciler.api does not build the validators of kinds a spec does not use."""

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


# What any `vsr validate` pays before reading a spec: the interpreter, and pydantic's BaseModel with PyYAML.
FLOORS = {
    "python -c pass": "pass",
    "python -c 'import pydantic.main, yaml'": "import pydantic.main, yaml",
}


def measure(python_args: list[str], runs: int) -> list[float]:
    """Wall time of `runs` fresh interpreters started with `python_args`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *python_args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - start)
    return out


SPLIT = """import time
t0 = time.process_time()
import reconciler.api as api
t1 = time.process_time()
from pathlib import Path
api.load_specs([Path(%r)])
t2 = time.process_time()
print(t1 - t0, t2 - t1)"""


def split(runs: int) -> tuple[float, float]:
    """The least CPU time (import of reconciler.api, load_specs) over `runs` fresh interpreters."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    found = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", SPLIT % str(ROOT / "examples" / "quickstart")], env=env,
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        found.append((float(out[0]), float(out[1])))
    return min(i for i, _ in found), min(v for _, v in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    runs = {name: ["-c", code] for name, code in FLOORS.items()}
    runs.update({name: ["-m", "reconciler.cli", *argv] for name, argv in CASES.items()})
    for name, python_args in runs.items():
        times = measure(python_args, args.runs)
        print(f"{name:40s} best {min(times):.3f} s  median {statistics.median(times):.3f} s")
    imported, loaded = split(args.runs)
    print(f"{'validate: import reconciler.api (CPU)':40s} best {imported:.3f} s")
    print(f"{'validate: load_specs quickstart (CPU)':40s} best {loaded:.3f} s")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    main()
