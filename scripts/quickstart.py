"""`make run`: the bundled simulator in -drift mode and vsr on examples/quickstart.

Starts the simulator (TLS with a generated certificate, username/password), writes a VCenter document for it
into build/quickstart/, then shows plan -> apply -> plan -> events. Ctrl-C stops everything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from simulator import start_simulator  # noqa: E402

VSR = str(Path(sys.executable).with_name("vsr"))


def step(title: str, *args: str) -> int:
    print(f"\n\033[1m$ vsr {' '.join(args)}\033[0m   # {title}", flush=True)
    return subprocess.call([VSR, *args])


def main() -> int:
    work = ROOT / "build" / "quickstart"
    shutil.rmtree(work, ignore_errors=True)
    specs = work / "specs"
    shutil.copytree(ROOT / "examples" / "quickstart", specs)
    journal = work / "journal.db"
    with start_simulator("-drift") as sim:
        (specs / "vcenter.yaml").write_text(sim.vcenter_yaml("sim"))
        print(f"simulator: {sim.url} (user {sim.username}, CA {sim.ca_file})")
        print(f"specs:     {specs}")
        common = ["--journal", str(journal)]
        step("what drifted (exit 2 = drift)", "plan", str(specs), *common)
        step("converge once, read back, record events", "apply", "--yes", str(specs), *common)
        step("converged (exit 0) apart from waived or unsupported fields", "plan", str(specs), *common)
        step("the journal", "events", *common)
        if os.environ.get("VSR_QUICKSTART_WAIT"):
            print(f"\nsimulator still running at {sim.url}; Ctrl-C to stop")
            try:
                sim.process.wait()
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
