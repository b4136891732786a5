"""Shared helpers of the reliability suite: `vsr` as a subprocess (bounded time, peak memory), the daemon as a
subprocess, journal snapshots, spec documents for the simulator."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness import free_port, http_get, wait_for  # noqa: E402,F401  (shared with the integration tests)

PYTHON = sys.executable
VSR = str(Path(sys.executable).with_name("vsr"))
# runs `vsr` in a child and reports its own peak RSS (KiB) on the last stderr line
_MEASURED = ("import resource, sys\n"
             "from reconciler.cli import main\n"
             "try:\n    code = main(sys.argv[1:])\n"
             "finally:\n"
             "    print('VSR_MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
             "sys.exit(code)\n")

BIG_INVENTORY = ("-cluster", "4", "-host", "10", "-vm-per-host", "4", "-standalone-host", "0")  # 40 hosts + 160 VMs


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float
    maxrss_kb: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def logs(self) -> list[dict]:
        """The JSON log lines of stderr (other lines ignored)."""
        out = []
        for line in self.err.splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def vsr(*args: str, timeout: float = 120, env: dict | None = None, cwd: str | None = None) -> Result:
    """`vsr ARGS` in a child process; raises if it does not finish within ``timeout`` (the bound under test)."""
    started = time.monotonic()
    proc = subprocess.run([PYTHON, "-c", _MEASURED, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd, errors="replace")
    seconds = time.monotonic() - started
    err, rss = proc.stderr, 0
    lines = err.rstrip("\n").split("\n")
    if lines and lines[-1].startswith("VSR_MAXRSS_KB "):
        rss = int(lines[-1].split()[1])
        err = "\n".join(lines[:-1]) + "\n"
    return Result(proc.returncode, proc.stdout, err, seconds, rss)




def vcenter_doc(sim, name: str, creds: Path, password_env: str | None = None) -> str:
    """A VCenter document whose credential files outlive the simulator (restarts on a fixed port)."""
    creds.mkdir(parents=True, exist_ok=True)
    (creds / "username").write_text(sim.username)
    (creds / "password").write_text(sim.password + "\n")
    secret = f"passwordEnv: {password_env}" if password_env else f"passwordFile: \"{creds / 'password'}\""
    return (f"apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {{name: {name}}}\nspec:\n"
            f"  server: \"{sim.host}:{sim.port}\"\n"
            f"  credentials: {{usernameFile: \"{creds / 'username'}\", {secret}}}\n"
            f"  tls: {{verify: true, caFile: \"{sim.ca_file}\"}}\n")


def policy(kind: str, name: str, body: str) -> str:
    indented = "".join("  " + line + "\n" for line in body.strip("\n").splitlines())
    return f"apiVersion: vsr.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n{indented}"


@dataclass
class Daemon:
    root: Path
    args: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)
    log_level: str = "info"
    log_format: str = "json"

    def __post_init__(self):
        self.specs = self.root / "specs"
        self.specs.mkdir(parents=True, exist_ok=True)
        self.journal = self.root / "journal.db"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.root / "daemon.log"
        self.starts = 0

    def start(self) -> "Daemon":
        self.starts += 1
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [VSR, "run", str(self.specs), "--journal", str(self.journal), "--listen", f"127.0.0.1:{self.port}",
                 "--log-level", self.log_level, "--log-format", self.log_format, *self.args],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, env={**os.environ, **self.env})
        return self

    def get(self, path: str) -> tuple[int, str]:
        return http_get(self.port, path)

    def wait_ready(self, timeout: float = 30) -> None:
        """Ready (/readyz 200) and settled: every vCenter connected and the first full pass done (/status)."""
        wait_for(lambda: self.get("/readyz")[0] == 200 and self.settled(), timeout,
                 f"daemon ready and settled\n{self.log.read_text()[-4000:]}")

    def settled(self) -> bool:
        code, body = self.get("/status")
        s = json.loads(body) if code == 200 else {}
        return s.get("firstPassDone") is True and all(vc["connected"] for vc in s.get("vcenters", []))

    def status(self) -> dict:
        return json.loads(self.get("/status")[1])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(20)

    def stop(self) -> float:
        started = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGTERM)
        return time.monotonic() - started

    def rss_peak_kb(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0


def journal_rows(path: Path) -> dict[int, tuple]:
    """Committed rows of the journal as another reader sees them: {id: (reason, object, path, message, count)}."""
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return {row[0]: row[1:] for row in db.execute(
            "SELECT id, reason, object_moid, path, message, count FROM events")}
    except sqlite3.OperationalError:  # the schema is not created yet
        return {}
    finally:
        db.close()


def integrity(path: Path) -> str:
    db = sqlite3.connect(path, timeout=5)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
