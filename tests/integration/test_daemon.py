"""`vsr run` as a subprocess against the simulator: event-driven drift detection and remediation, spec edits,
invalid edits (last known good), simulator restart, session loss, SIGTERM, flapping, two vCenters."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import free_port, host, http_get, service, wait_for
from reconciler.events.journal import Journal
from simulator import start_simulator

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VSR = str(Path(sys.executable).with_name("vsr"))
HOST = "DC0_C0_H0"
SSH_OFF = """apiVersion: vsr.dev/v1alpha1
kind: HostSecurityPolicy
metadata: {name: ssh-off}
spec:
  selector: {hosts: ["*"]}
  services: {TSM-SSH: {running: false}}
"""



def vcenter_doc(sim, name: str, creds: Path) -> str:
    """A VCenter document whose credential files outlive the simulator (for restarts)."""
    creds.mkdir(parents=True, exist_ok=True)
    (creds / "username").write_text(sim.username)
    (creds / "password").write_text(sim.password)
    return (f"apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {{name: {name}}}\nspec:\n"
            f"  server: \"{sim.host}:{sim.port}\"\n"
            f"  credentials: {{usernameFile: \"{creds / 'username'}\", passwordFile: \"{creds / 'password'}\"}}\n"
            f"  tls: {{verify: true, caFile: \"{sim.ca_file}\"}}\n")


class Daemon:
    def __init__(self, root: Path, *args: str):
        self.root = root
        self.specs = root / "specs"
        self.specs.mkdir(parents=True, exist_ok=True)
        self.journal = root / "journal.db"
        self.port = free_port()
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.log = root / "daemon.log"
        self.log_level: str | None = "info"  # None: the daemon's default

    @classmethod
    def for_sim(cls, root: Path, sim, *args: str, **policies: str) -> "Daemon":
        """A daemon on `sim` (VCenter document "sim", credentials beside `root`) with each `policies` entry written
        as specs/NAME.yaml."""
        d = cls(root, *args)
        (d.specs / "vc.yaml").write_text(vcenter_doc(sim, "sim", root.parent / f"{root.name}-creds"))
        for name, text in policies.items():
            (d.specs / f"{name}.yaml").write_text(text)
        return d

    def start(self) -> "Daemon":
        level = ["--log-level", self.log_level] if self.log_level else []
        self.proc = subprocess.Popen(
            [VSR, "run", str(self.specs), "--journal", str(self.journal), "--listen", f"127.0.0.1:{self.port}",
             *level, "--log-format", "json", *self.args],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), env={**os.environ, "VSR_LOG_LEVEL": ""})
        return self

    def get(self, path: str) -> tuple[int, str]:
        return http_get(self.port, path)

    def status(self) -> dict:
        code, body = self.get("/status")
        return json.loads(body) if code == 200 else {}

    def wait_ready(self, timeout: float = 20) -> None:
        """Ready (/readyz 200) and settled: every vCenter connected and the first full pass done (/status)."""
        def settled() -> bool:
            s = self.status()
            return (self.get("/readyz")[0] == 200 and s.get("firstPassDone") is True
                    and all(vc["connected"] for vc in s.get("vcenters", [])))
        wait_for(settled, timeout, f"daemon ready and settled\n{self.log.read_text()}")

    def events(self, reason: str, name: str | None = None, path: str | None = None) -> list:
        if not self.journal.exists():
            return []
        with Journal(self.journal) as journal:
            return [e for e in journal.query(reason=reason)
                    if (name is None or e.object.name == name) and (path is None or e.path == path)]

    def stop(self, sig: int = signal.SIGTERM) -> float:
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(20)
        return time.monotonic() - started



@pytest.fixture
def daemon_factory(tmp_path):
    started: list[Daemon] = []

    def factory(*args: str, name: str = "d") -> Daemon:
        d = Daemon(tmp_path / name, *args)
        started.append(d)
        return d

    yield factory
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(5)


def test_out_of_band_change_is_detected_and_remediated_fast(fresh_sim, daemon_factory, tmp_path):
    d = daemon_factory()
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    d.start().wait_ready()
    si = fresh_sim.connect()
    started = time.monotonic()
    host(si, HOST).configManager.serviceSystem.StartService(id="TSM-SSH")
    wait_for(lambda: d.events("DriftRemediated", HOST, "services.TSM-SSH.running"), 2.0, "DriftRemediated")
    elapsed = time.monotonic() - started
    assert d.events("DriftDetected", HOST, "services.TSM-SSH.running")
    assert service(host(si, HOST), "TSM-SSH").running is False
    status, body = d.get("/metrics")
    assert status == 200 and "controller_runtime_reconcile_total" in body
    status, body = d.get("/status")
    policy = next(p for p in json.loads(body)["policies"] if p["name"] == "ssh-off")
    assert {c["type"]: c["status"] for c in policy["conditions"]}["Ready"] == "True"
    assert d.stop() < 10
    print(f"out-of-band change -> DriftRemediated in {elapsed:.2f} s")


def syslog_daemon(fresh_sim, daemon_factory, tmp_path):
    """A daemon converging a syslog policy on the simulator, the first value applied: (daemon, policy file,
    its template with one %s for the log host, a function reading DC0_C0_H0's log host back)."""
    d = daemon_factory()
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    policy = d.specs / "syslog.yaml"
    template = ("apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: syslog}\nspec:\n"
                "  selector: {hosts: [\"*\"]}\n  advancedSettings: {Syslog.global.logHost: \"%s\"}\n")
    policy.write_text(template % "udp://10.0.0.1:514")
    d.start().wait_ready()
    si = fresh_sim.connect()

    def log_host():
        return host(si, HOST).configManager.advancedOption.QueryOptions(name="Syslog.global.logHost")[0].value

    wait_for(lambda: log_host() == "udp://10.0.0.1:514", 10, "first value applied")
    return d, policy, template, log_host


def test_spec_edit_converges_and_invalid_edit_keeps_last_good(fresh_sim, daemon_factory, tmp_path):
    d, policy, template, log_host = syslog_daemon(fresh_sim, daemon_factory, tmp_path)
    policy.write_text(template % "udp://10.0.0.2:514")
    wait_for(lambda: log_host() == "udp://10.0.0.2:514", 10, "edited value applied")

    policy.write_text(template.replace("advancedSettings", "advancedSetings") % "udp://10.0.0.3:514")
    wait_for(lambda: d.events("SpecInvalid"), 10, "SpecInvalid event")
    host(fresh_sim.connect(), HOST).configManager.advancedOption.UpdateOptions(changedValue=[
        __import__("pyVmomi").vim.option.OptionValue(key="Syslog.global.logHost", value="udp://6.6.6.6:514")])
    wait_for(lambda: log_host() == "udp://10.0.0.2:514", 10, "last good version still enforced")
    assert d.proc.poll() is None, "a bad spec never stops the daemon"


def test_simulator_restart_and_session_loss(daemon_factory, tmp_path):
    port = free_port()
    sim = start_simulator("-l", f"127.0.0.1:{port}")
    d = daemon_factory("--resync", "1h")
    (d.specs / "vc.yaml").write_text(vcenter_doc(sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    try:
        d.start().wait_ready()
        # session loss: the server forgets the daemon's session
        si = sim.connect()
        manager = si.RetrieveContent().sessionManager
        mine = manager.currentSession.key
        for session in manager.sessionList:
            if session.key != mine:
                manager.TerminateSession(sessionId=[session.key])
        host(si, HOST).configManager.serviceSystem.StartService(id="TSM-SSH")
        wait_for(lambda: service(host(si, HOST), "TSM-SSH").running is False, 15, "remediation after session loss")

        sim.stop()
        wait_for(lambda: [vc["connected"] for vc in d.status()["vcenters"]] == [False], 30, "/status: disconnected")
        assert d.get("/readyz")[0] == 200  # a vCenter outage is not a pod problem: it stays ready
        sim = start_simulator("-l", f"127.0.0.1:{port}")
        d.wait_ready(timeout=60)
        si = sim.connect()
        host(si, HOST).configManager.serviceSystem.StartService(id="TSM-SSH")
        wait_for(lambda: service(host(si, HOST), "TSM-SSH").running is False, 15, "remediation after restart")
    finally:
        sim.stop()


def test_sigterm_leaves_a_consistent_journal(fresh_sim, daemon_factory, tmp_path):
    d = daemon_factory()
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    d.start().wait_ready()
    assert d.stop() < 10 and d.proc.returncode == 0
    with sqlite3.connect(d.journal) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_flapping_field_stops_being_reapplied(fresh_sim, daemon_factory, tmp_path):
    d = daemon_factory("--flap-threshold", "3", "--flap-window", "60s")
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    d.start().wait_ready()
    si = fresh_sim.connect()
    system = host(si, HOST).configManager.serviceSystem
    stop = threading.Event()

    def fight():  # something outside keeps turning SSH back on
        while not stop.is_set():
            if service(host(si, HOST), "TSM-SSH").running is False:
                system.StartService(id="TSM-SSH")
            time.sleep(0.05)

    fighter = threading.Thread(target=fight, daemon=True)
    fighter.start()
    try:
        wait_for(lambda: d.events("DriftFlapping", HOST), 30, "DriftFlapping")
    finally:
        stop.set()
        fighter.join(5)
    remediated = sum(e.count for e in d.events("DriftRemediated", HOST, "services.TSM-SSH.running"))
    time.sleep(1.0)
    assert sum(e.count for e in d.events("DriftRemediated", HOST, "services.TSM-SSH.running")) == remediated
    status = json.loads(d.get("/status")[1])
    policy = next(p for p in status["policies"] if p["name"] == "ssh-off")
    assert {c["type"]: c["status"] for c in policy["conditions"]}["Stalled"] == "True"


def test_two_vcenters_each_converge(daemon_factory, tmp_path, sim_factory):
    a, b = sim_factory(), sim_factory()
    d = daemon_factory()
    (d.specs / "a.yaml").write_text(vcenter_doc(a, "vc-a", tmp_path / "a"))
    (d.specs / "b.yaml").write_text(vcenter_doc(b, "vc-b", tmp_path / "b"))
    for name in ("vc-a", "vc-b"):
        (d.specs / f"ssh-{name}.yaml").write_text(SSH_OFF.replace("name: ssh-off", f"name: ssh-{name}")
                                                  .replace("spec:\n", f"spec:\n  vcenter: {name}\n"))
    d.start().wait_ready()
    for sim in (a, b):
        si = sim.connect()
        host(si, HOST).configManager.serviceSystem.StartService(id="TSM-SSH")
    for sim in (a, b):
        si = sim.connect()
        wait_for(lambda: service(host(si, HOST), "TSM-SSH").running is False, 5, f"remediation on {sim.port}")
    status = json.loads(d.get("/status")[1])
    assert sorted(v["name"] for v in status["vcenters"]) == ["vc-a", "vc-b"]


def test_new_vm_is_picked_up_and_events_are_mirrored_into_vcenter(fresh_sim, daemon_factory, tmp_path):
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    from harness import by_name

    d = daemon_factory("--mirror-events")
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    (d.specs / "vm.yaml").write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: VMSecurityPolicy\nmetadata: {name: vm-copy}\nspec:\n"
        "  selector: {vms: [\"*\"]}\n  advancedSettings: {isolation.tools.copy.disable: true}\n")
    d.start().wait_ready()
    si = fresh_sim.connect()
    datacenter = by_name(si, vim.Datacenter, "DC0")
    pool = by_name(si, vim.ClusterComputeResource, "DC0_C0").resourcePool
    spec = vim.vm.ConfigSpec(name="created-later", guestId="otherGuest", numCPUs=1, memoryMB=128,
                             files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"))
    WaitForTask(datacenter.vmFolder.CreateVM_Task(config=spec, pool=pool))

    def copy_disabled():
        vm = by_name(si, vim.VirtualMachine, "created-later")
        return any(o.key == "isolation.tools.copy.disable" and o.value == "TRUE" for o in vm.config.extraConfig)

    wait_for(copy_disabled, 10, "the new VM converged")
    wait_for(lambda: d.events("DriftRemediated", "created-later"), 5, "DriftRemediated in the journal")
    vm = by_name(si, vim.VirtualMachine, "created-later")
    spec = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=vm, recursion="self"))

    def mirrored():
        messages = [e.fullFormattedMessage or "" for e in si.RetrieveContent().eventManager.QueryEvents(spec)]
        return any("[vsr]" in m and "DriftRemediated" in m for m in messages)

    wait_for(mirrored, 5, "the event mirrored into vCenter's event history")


# -- readiness and shard placement (docs/deploy.md "Sharding") -------------------------------------------------

def down_vcenter_doc(name: str, creds: Path, port: int, shard: int | None = None) -> str:
    """A VCenter document for a server that is not there (nothing listens on `port`)."""
    creds.mkdir(parents=True, exist_ok=True)
    (creds / "username").write_text("vsr")
    (creds / "password").write_text("not-used")
    pin = "" if shard is None else f"  shard: {shard}\n"
    return (f"apiVersion: vsr.dev/v1alpha1\nkind: VCenter\nmetadata: {{name: {name}}}\nspec:\n"
            f"  server: \"127.0.0.1:{port}\"\n{pin}"
            f"  credentials: {{usernameFile: \"{creds / 'username'}\", passwordFile: \"{creds / 'password'}\"}}\n")


def test_a_shard_owning_no_vcenter_is_ready(fresh_sim, daemon_factory, tmp_path):
    from reconciler.daemon.supervisor import shard_of
    other = next(i for i in range(3) if i != shard_of("sim", 3))
    d = daemon_factory(f"--shard={other}/3")
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    d.start()
    wait_for(lambda: d.get("/readyz")[0] == 200, 20, f"an empty shard ready\n{d.log.read_text()}")
    assert json.loads(d.get("/readyz")[1]) == {"ready": True, "reason": "ok"}
    status = d.status()
    assert status["vcenters"] == [] and status["specsLoaded"] is True and status["firstPassDone"] is True
    assert d.stop() < 10 and d.proc.returncode == 0


def test_ready_while_its_vcenter_is_down_and_status_says_so(daemon_factory, tmp_path):
    d = daemon_factory()
    (d.specs / "vc.yaml").write_text(down_vcenter_doc("lab", tmp_path / "creds", free_port()))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    d.start()
    wait_for(lambda: d.status().get("vcenters"), 20, f"the vCenter in /status\n{d.log.read_text()}")
    assert d.get("/readyz") == (200, json.dumps({"ready": True, "reason": "ok"}, indent=2) + "\n")
    (vc,) = d.status()["vcenters"]
    assert vc["name"] == "lab" and vc["connected"] is False and vc["lastError"]
    assert d.status()["firstPassDone"] is False  # convergence is reported, not gated on


def test_spec_shard_pins_a_vcenter_to_its_shard(daemon_factory, tmp_path):
    from reconciler.daemon.supervisor import shard_of
    pinned = next(i for i in range(3) if i != shard_of("lab", 3))  # not where hashing would put it
    owner = daemon_factory(f"--shard={pinned}/3", name="owner")
    hashed = daemon_factory(f"--shard={shard_of('lab', 3)}/3", name="hashed")
    for d in (owner, hashed):
        (d.specs / "vc.yaml").write_text(down_vcenter_doc("lab", tmp_path / "creds", free_port(), shard=pinned))
        d.start()
    for d in (owner, hashed):
        wait_for(lambda d=d: d.get("/readyz")[0] == 200, 20, f"ready\n{d.log.read_text()}")
    wait_for(lambda: [vc["name"] for vc in owner.status()["vcenters"]] == ["lab"], 20, "lab owned by the pinned shard")
    assert hashed.status()["vcenters"] == []


def test_a_log_file_written_into_the_spec_directory_does_not_postpone_reloads(fresh_sim, daemon_factory, tmp_path):
    """Issue 12 item 11: only spec files count, and a burst is fired at most max_wait after its first change. On
    the old watcher any file counted and every write restarted the debounce, so this edit was never loaded."""
    d, policy, template, log_host = syslog_daemon(fresh_sim, daemon_factory, tmp_path)
    stop = threading.Event()

    def write_log():  # something (a sidecar, a careless script) logs into the spec directory every 100 ms
        with (d.specs / "sync.log").open("a") as fh:
            while not stop.is_set():
                fh.write(f"{time.time()} synced\n")
                fh.flush()
                stop.wait(0.1)

    writer = threading.Thread(target=write_log, daemon=True)
    writer.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        policy.write_text(template % "udp://10.0.0.2:514")
        wait_for(lambda: log_host() == "udp://10.0.0.2:514", 8, "edit applied while a log file is written")
        print(f"spec edit applied in {time.monotonic() - started:.2f} s with a log written every 100 ms")
    finally:
        stop.set()
        writer.join()


def test_a_policy_matching_no_object_is_reported_in_status_and_the_journal(fresh_sim, daemon_factory, tmp_path):
    """Issue 14 item 5: a selector that matches nothing is named in /status (Ready False, NoMatchingObjects) and
    recorded once as a TargetNotFound event; the policy that does match stays Converged."""
    d = daemon_factory()
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    (d.specs / "typo.yaml").write_text(
        "apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: typo}\nspec:\n"
        "  selector: {hosts: [\"no-such-host-*\"]}\n  services: {TSM: {running: false}}\n")
    d.start().wait_ready()

    def ready_of(name: str) -> dict:
        (policy,) = [p for p in d.status()["policies"] if p["name"] == name]
        return next(c for c in policy["conditions"] if c["type"] == "Ready")

    wait_for(lambda: ready_of("typo")["reason"] == "NoMatchingObjects", 10, f"typo unmatched\n{d.log.read_text()}")
    assert ready_of("typo") | {"lastTransitionTime": None} == {
        "type": "Ready", "status": "False", "reason": "NoMatchingObjects",
        "message": "the policy's selector matches no object", "lastTransitionTime": None}
    assert ready_of("ssh-off")["reason"] != "NoMatchingObjects"
    wait_for(lambda: d.events("TargetNotFound", name="typo"), 10, "TargetNotFound recorded")
    (event,) = d.events("TargetNotFound", name="typo")
    assert event.type == "Warning" and event.source.endswith("typo.yaml:1")
    assert event.message == ("policy typo: its selector matches no object; check the selector (an empty selector "
                             "matches nothing)")
    assert d.events("TargetNotFound", name="ssh-off") == []


def test_the_daemon_logs_each_drift_and_fix_at_its_default_level(fresh_sim, daemon_factory, tmp_path):
    """Issue 14 item 11: without --log-level the daemon logs, one JSON line each, the drift it detects and the fix
    (object, field, old -> new, policy, source), the spec load and the connection."""
    d = daemon_factory()
    d.log_level = None
    (d.specs / "vc.yaml").write_text(vcenter_doc(fresh_sim, "sim", tmp_path / "creds"))
    (d.specs / "ssh.yaml").write_text(SSH_OFF)
    d.start().wait_ready()
    si = fresh_sim.connect()
    host(si, HOST).configManager.serviceSystem.StartService(id="TSM-SSH")
    wait_for(lambda: d.events("DriftRemediated", name=HOST, path="services.TSM-SSH.running"), 10, "remediated")
    wait_for(lambda: '"DriftRemediated"' in d.log.read_text(), 5, "the fix logged")
    lines = [json.loads(line) for line in d.log.read_text().splitlines() if line.startswith("{")]
    events = {line["event"] for line in lines}
    assert {"specs loaded", "connected to vCenter"} <= events
    fixed = [line for line in lines if line["event"] == "DriftRemediated" and line.get("object") == f"HostSystem/{HOST}"
             and line.get("field") == "services.TSM-SSH.running"]
    assert fixed, lines[-10:]
    line = fixed[-1]
    assert (line["current"], line["desired"], line["policy"]) == (True, False, "ssh-off")
    assert line["source"].endswith("ssh.yaml:6") and line["level"] == "info"
    detected = [x for x in lines if x["event"] == "DriftDetected" and x.get("field") == "services.TSM-SSH.running"]
    assert detected and detected[-1]["level"] == "warning"
