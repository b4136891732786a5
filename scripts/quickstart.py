"""`make run`: the bundled simulator in -drift mode and the vsr daemon on examples/quickstart.

Starts the simulator (TLS with a generated certificate, username/password), writes a VCenter document for it into
build/quickstart/specs, shows what drifted (`vsr plan`), then runs the daemon (`vsr run`): it converges the
simulator, records events, and keeps watching. Every 20 s this script makes an out-of-band change (starts SSH on
the next host in turn) so you can watch the daemon detect and fix it.

Ctrl-C stops both and shows the journal: the simulator and the daemon run in their own sessions, so the terminal's
SIGINT reaches only this script, which then stops the daemon (one SIGTERM; it exits within 3 s), the simulator,
and prints `vsr events`. Further Ctrl-C while stopping are ignored (stopping is bounded).

Environment: VSR_QUICKSTART_SECONDS stops by itself after that many seconds; VSR_QUICKSTART_LISTEN sets the
daemon's address; VSR_QUICKSTART_DIR the work directory (default build/quickstart). Used by the tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from simulator import start_simulator  # noqa: E402

VSR = str(Path(sys.executable).with_name("vsr"))
LISTEN = os.environ.get("VSR_QUICKSTART_LISTEN", "127.0.0.1:8080")
DAEMON_STOP_SECONDS = 5.0  # the daemon's own guarantee is 3 s; after this it is killed


def say(text: str) -> None:
    print(f"\n\033[1m{text}\033[0m", flush=True)


def stop_daemon(daemon: subprocess.Popen) -> None:
    if daemon.poll() is not None:
        return
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(DAEMON_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"vsr run did not stop within {DAEMON_STOP_SECONDS:g} s; killing it", file=sys.stderr)
        daemon.kill()
        daemon.wait(5)


def make_drift(content, vim, round_: int) -> None:
    """Start SSH on the next host in turn (one host changed every 20 s would be flagged DriftFlapping after five
    fixes in ten minutes, and no longer fixed: the daemon's flap detection, see docs/daemon.md)."""
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    hosts = sorted(view.view, key=lambda h: h.name)
    view.DestroyView()
    target = hosts[round_ % len(hosts)]
    say(f"out-of-band change: starting SSH on {target.name}; the daemon turns it off again")
    target.configManager.serviceSystem.StartService(id="TSM-SSH")


def main() -> int:
    work = Path(os.environ.get("VSR_QUICKSTART_DIR") or ROOT / "build" / "quickstart")
    shutil.rmtree(work, ignore_errors=True)
    specs = work / "specs"
    shutil.copytree(ROOT / "examples" / "quickstart", specs)
    journal = work / "journal.db"
    limit = float(os.environ.get("VSR_QUICKSTART_SECONDS", "0")) or None
    sim = start_simulator("-drift", new_session=True)
    daemon: subprocess.Popen | None = None
    try:
        (specs / "vcenter.yaml").write_text(sim.vcenter_yaml("sim"))
        print(f"simulator: {sim.url} (user {sim.username}, CA {sim.ca_file})")
        print(f"specs:     {specs}")
        say(f"$ vsr plan {specs}   # what drifted (exit 2 = drift)")
        subprocess.call([VSR, "plan", str(specs), "--journal", str(journal)], start_new_session=True)
        say(f"$ vsr run {specs}   # the daemon: converges, records events, watches for drift")
        daemon = subprocess.Popen([VSR, "run", str(specs), "--journal", str(journal), "--listen", LISTEN,
                                   "--log-level", "info"], start_new_session=True)
        print(f"  events:  .venv/bin/vsr events --journal {journal} --follow")
        print(f"  status:  .venv/bin/vsr status --url {LISTEN}   (or curl http://{LISTEN}/status)")
        print(f"  metrics: curl http://{LISTEN}/metrics")
        print("  Ctrl-C stops the daemon and the simulator and shows the journal", flush=True)
        from pyVmomi import vim
        content = sim.connect().RetrieveContent()
        started = time.monotonic()
        rounds = 0
        while daemon.poll() is None and (limit is None or time.monotonic() - started < limit):
            time.sleep(min(20.0, limit or 20.0))
            if daemon.poll() is None and (limit is None or time.monotonic() - started < limit):
                make_drift(content, vim, rounds)
                rounds += 1
    except KeyboardInterrupt:
        say("Ctrl-C: stopping the daemon and the simulator")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping is bounded: a second Ctrl-C must not cut it short
        if daemon is not None:
            stop_daemon(daemon)
        sim.stop()
    say(f"$ vsr events --journal {journal} --since 1h")
    subprocess.call([VSR, "events", "--journal", str(journal), "--since", "1h"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
