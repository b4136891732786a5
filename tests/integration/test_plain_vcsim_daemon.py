"""`vsr run` against plain vcsim (the project simulator's `-plain` mode, i.e. what the official vmware/vcsim image
serves, which the Helm chart's `vcsim.enabled` deploys). Plain vcsim lacks the host-hardening API (service
policies, lockdown, firewall allow-lists, vSwitch security): the daemon must report each such control as
`Unsupported` per host, show it in /status, stay up and ready, and not retry the missing API in a loop.

The daemon is wired exactly as the chart wires it: an ad-hoc connection (`--server`, `VSR_USERNAME` from the
environment, `--password-file`, the CA through `SSL_CERT_FILE`), and the spec path is a git-sync style link
(`<root>/specs -> .worktrees/<sha>`) that is swapped atomically for a new commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyVmomi import vim

from harness import free_port, http_get, wait_for
from reconciler.events.journal import Journal

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VSR = str(Path(sys.executable).with_name("vsr"))
RESYNC = 2.0  # seconds: several forced full resyncs within the test
SHA1, SHA2 = "1" * 40, "2" * 40

# Controls plain vcsim cannot change, each set to a value that differs from plain vcsim's state:
# sfcbd-watchdog (CIM) has policy "on", lockdown is disabled, allow-lists are allIp, vSwitch security unset.
POLICY = """apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: plain-hardening}
spec:
  selector: {hosts: ["*"]}
  services:
    sfcbd-watchdog: {running: false, policy: "off"}
    TSM-SSH: {running: false, policy: "off"}
  lockdown: {mode: normal}
  firewall:
    sshServer: {allowedIPs: ["10.0.0.0/8"]}
  networkSecurity: {allowPromiscuous: false, macChanges: false, forgedTransmits: false}
"""
CONTROLS = ("services.", "lockdown.", "firewall.", "networkSecurity.")




def publish(root: Path, sha: str, files: dict[str, str]) -> None:
    """What git-sync does for a new commit: a new worktree, then an atomic swap of the link."""
    tree = root / ".worktrees" / sha
    tree.mkdir(parents=True)
    for name, text in files.items():
        (tree / name).write_text(text)
    tmp = root / f".specs-{sha[:8]}"
    tmp.symlink_to(f".worktrees/{sha}")
    tmp.replace(root / "specs")


class PlainDaemon:
    def __init__(self, sim, tmp: Path):
        self.root = tmp / "git"  # the git-sync root (an emptyDir in the pod)
        self.root.mkdir()
        self.journal = tmp / "journal.db"
        self.port = free_port()
        self.log = tmp / "daemon.log"
        password = tmp / "credentials" / "password"
        password.parent.mkdir()
        password.write_text(sim.password)
        env = {**os.environ, "VSR_USERNAME": sim.username, "SSL_CERT_FILE": sim.ca_file}
        env.pop("VSR_PASSWORD", None)
        self.argv = [VSR, "run", str(self.root / "specs"), "--journal", str(self.journal),
                     "--listen", f"127.0.0.1:{self.port}", "--resync", f"{RESYNC}s", "--log-format", "json",
                     "--log-level", "info", "--server", f"{sim.host}:{sim.port}", "--password-file", str(password)]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PlainDaemon":
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        return self

    def get(self, path: str) -> tuple[int, str]:
        return http_get(self.port, path)

    def status(self) -> dict:
        return json.loads(self.get("/status")[1])

    def unsupported(self) -> dict[tuple[str, str], int]:
        """(host, field path) -> event count of the Unsupported events in the journal."""
        if not self.journal.exists():
            return {}
        with Journal(self.journal) as journal:
            return {(e.object.name, e.path): e.count for e in journal.query(reason="Unsupported")}

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def plain_daemon(sim_factory, tmp_path):
    sim = sim_factory("-plain")
    si = sim.connect()
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    hosts = sorted(h.name for h in view.view)
    d = PlainDaemon(sim, tmp_path)
    publish(d.root, SHA1, {"policy.yaml": POLICY})
    d.start()
    try:
        wait_for(lambda: d.get("/readyz")[0] == 200, 30, f"daemon ready\n{d.log.read_text()}")
        # the first pass reports every missing control on every host
        wait_for(lambda: all(any(h == host and p.startswith(c) for h, p in d.unsupported())
                             for host in hosts for c in CONTROLS), 20,
                 f"Unsupported for every control on every host: {sorted(d.unsupported())}")
        yield d, hosts
    finally:
        d.stop()


def test_plain_vcsim_reports_unsupported_per_host_and_stays_up(plain_daemon):
    d, hosts = plain_daemon
    first = d.unsupported()
    assert len(hosts) >= 4
    # one event per (host, field), for each control the target lacks, with the reason in the message
    for host in hosts:
        paths = {p for h, p in first if h == host}
        assert {"services.sfcbd-watchdog.policy", "lockdown.mode", "firewall.sshServer.allowedIPs"} <= paths, paths
        assert any(p.startswith("networkSecurity.") for p in paths), paths
    with Journal(d.journal) as journal:
        events = journal.query(reason="Unsupported")
        assert all(e.type == "Warning" and e.message for e in events)
        assert not journal.query(reason="RemediationFailed")  # a missing API is not a failure to retry
        assert not journal.query(reason="DriftRemediated")

    # several forced resyncs later: no new (host, field) keys, nothing failed, not a hot loop
    cpu_before, started = d.cpu_seconds(), time.monotonic()
    time.sleep(3 * RESYNC + 0.5)
    cpu = d.cpu_seconds() - cpu_before
    elapsed = time.monotonic() - started
    later = d.unsupported()
    assert set(later) == set(first), "the same controls, no new ones"
    # at most one report per resync pass (a retry loop would be hundreds)
    passes = elapsed / RESYNC + 2
    assert all(later[k] - first[k] <= passes for k in first), {k: later[k] - first[k] for k in first}
    assert cpu < 0.5 * elapsed, f"daemon used {cpu:.2f} s CPU in {elapsed:.1f} s"
    print(f"plain vcsim: {len(first)} Unsupported (host, field) pairs on {len(hosts)} hosts; "
          f"daemon CPU {cpu:.2f} s over {elapsed:.1f} s with --resync {RESYNC:g}s")

    # /status counts them for the policy; nothing failed, nothing flaps; still alive and ready
    policy = next(p for p in d.status()["policies"] if p["name"] == "plain-hardening")
    assert policy["counts"]["unsupported"] == len(first)
    assert policy["counts"]["objects"] == len(hosts)
    assert policy["counts"]["errors"] == 0 and policy["counts"]["flapping"] == 0
    assert {c["type"]: c["status"] for c in policy["conditions"]}["Stalled"] == "False"
    assert d.get("/healthz")[0] == 200 and d.get("/readyz")[0] == 200
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_git_sync_link_swap_is_picked_up(plain_daemon):
    # A new commit (as git-sync publishes it) changes the spec: the daemon follows the swapped link.
    d, hosts = plain_daemon
    assert d.status()["specRevision"] == SHA1
    publish(d.root, SHA2, {"policy.yaml": POLICY.replace("  lockdown: {mode: normal}\n", "")})
    wait_for(lambda: d.status()["specRevision"] == SHA2, 15, "the new commit in /status")
    policy = wait_for(lambda: next((p for p in d.status()["policies"] if p["name"] == "plain-hardening"
                                    and p["specRevision"] == SHA2 and p["observedGeneration"] >= 2), None),
                      15, "the edited policy observed")
    wait_for(lambda: next(p for p in d.status()["policies"] if p["name"] == "plain-hardening")["counts"]
             ["unsupported"] == len(d.unsupported()) - len(hosts), 15, "lockdown no longer counted")
    assert policy["counts"]["errors"] == 0
    assert d.get("/readyz")[0] == 200
    with Journal(d.journal) as journal:
        assert not journal.query(reason="SpecInvalid")


def test_unsupported_event_count_does_not_grow_across_resyncs(plain_daemon):
    d, _hosts = plain_daemon
    first = d.unsupported()
    time.sleep(2 * RESYNC + 0.5)  # at least two forced resyncs
    assert d.unsupported() == first
