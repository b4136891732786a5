"""Nothing written without a record: the write-ahead journal of `vsr apply` against the simulator (issue 12,
items 4, 5 and 14)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import Workspace, host, option, service, wait_for

pytestmark = [pytest.mark.integration]

VSR = str(Path(sys.executable).with_name("vsr"))
SSH = """
selector: {hosts: ["*"]}
services: {TSM-SSH: {running: false, policy: "off"}}
"""
TIMEOUT = """
selector: {hosts: ["DC0_C0_H0"]}
advancedSettings: {UserVars.DcuiTimeOut: 300}
"""


def unprivileged() -> list[str]:
    """A prefix that runs a command without capabilities, so file permissions apply even to root."""
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all"] if os.geteuid() == 0 else []


def run_vsr(*args: str, prefix: list[str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), VSR, *args], capture_output=True, text=True, timeout=timeout)


def ssh_state(sim) -> list[tuple[bool, str]]:
    si = sim.connect()
    return [(s.running, s.policy) for name in ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2", "DC0_H0")
            for s in [service(host(si, name), "TSM-SSH")]]


def open_intents(journal: Path) -> list[tuple]:
    if not journal.exists():
        return []
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT i.id, e.object_name, e.path, e.desired FROM intents i JOIN events e "
                          "ON e.id = i.event_id WHERE i.closed IS NULL").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def test_journal_in_the_way_apply_writes_nothing_and_says_so_in_one_line(sim_factory, tmp_path):
    sim = sim_factory("-drift")
    ws = Workspace(tmp_path, sim)
    ws.policy("ssh", SSH)
    before = ssh_state(sim)
    assert (True, "on") in before
    ws.journal.mkdir()  # a directory where the journal file should be
    run = run_vsr("apply", str(ws.specs), "--yes", "--journal", str(ws.journal))
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"vsr apply: journal {ws.journal} is a directory, not a journal file"]
    assert ssh_state(sim) == before


def test_read_only_journal_apply_writes_nothing_and_events_still_reads_it(sim_factory, tmp_path):
    sim = sim_factory("-drift")
    ws = Workspace(tmp_path, sim)
    ws.policy("ssh", SSH)
    plan = run_vsr("plan", str(ws.specs), "--record", "--journal", str(ws.journal))  # --record creates it
    assert plan.returncode == 2, plan.stderr
    before = ssh_state(sim)
    ws.journal.chmod(0o444)
    ws.root.chmod(0o555)  # no -wal/-shm can be created beside it either
    try:
        run = run_vsr("apply", str(ws.specs), "--yes", "-o", "json", "--journal", str(ws.journal),
                      prefix=unprivileged())
        assert run.returncode == 1
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"vsr apply: journal {ws.journal}"), run.stderr
        assert "readonly" in lines[0] and "Traceback" not in run.stderr
        assert ssh_state(sim) == before
        events = run_vsr("events", "--journal", str(ws.journal), "--reason", "DriftDetected", "-o", "json",
                         prefix=unprivileged())
        assert events.returncode == 0, events.stderr
        got = [json.loads(line) for line in events.stdout.splitlines()]
        assert {e["object"]["name"] for e in got if e["path"] == "services.TSM-SSH.running"} >= {"DC0_C0_H0"}
    finally:
        ws.root.chmod(0o755)
        ws.journal.chmod(0o644)


def test_intent_is_committed_before_the_write_and_a_crash_is_settled_by_the_next_apply(sim_factory, tmp_path):
    sim = sim_factory("-method-delay", "UpdateOptions:3000")
    ws = Workspace(tmp_path, sim)
    ws.policy("timeout", TIMEOUT)
    proc = subprocess.Popen([VSR, "apply", str(ws.specs), "--yes", "--journal", str(ws.journal)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # another connection sees the intent while the write is still in flight (the simulator holds it 3 s)
        intents = wait_for(lambda: open_intents(ws.journal), 20, "the intent in the journal", interval=0.05)
        assert option(host(sim.connect(), "DC0_C0_H0"), "UserVars.DcuiTimeOut") == 600
        assert [(name, path, json.loads(desired)) for _, name, path, desired in intents] == [
            ("DC0_C0_H0", "advancedSettings.UserVars.DcuiTimeOut", 300)]
        proc.kill()  # kill -9 while the write is in flight
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert open_intents(ws.journal) == intents, "the intent survives the crash, open"
    wait_for(lambda: option(host(sim.connect(), "DC0_C0_H0"), "UserVars.DcuiTimeOut") == 300, 10,
             "the server to finish the write it had received")
    again = run_vsr("apply", str(ws.specs), "--yes", "--journal", str(ws.journal))
    assert again.returncode == 0, again.stderr
    assert "settled 1 open intent(s) of an interrupted run: 1 applied" in again.stdout
    assert open_intents(ws.journal) == []
    db = sqlite3.connect(ws.journal)
    try:
        closed = db.execute("SELECT i.outcome, e.reason FROM intents i JOIN events e ON e.id = i.outcome_event "
                            "WHERE i.id = ?", (intents[0][0],)).fetchall()
    finally:
        db.close()
    assert closed == [("applied", "DriftRemediated")]


def test_one_failed_call_fails_only_its_field(sim_factory, tmp_path, capsys):
    """The services controller sets the policy, then stops the service; the stop fails every time. The policy
    was applied and is reported so; only `running` failed."""
    sim = sim_factory("-drift", "-fail", "StopService@DC0_C0_H0:1.0:SystemError")
    ws = Workspace(tmp_path, sim)
    ws.policy("ssh", SSH)
    run = ws.vsr(capsys, "apply")
    assert run.code == 1
    mine = {c["path"]: c for c in run.changes(name="DC0_C0_H0")}
    assert mine["services.TSM-SSH.policy"]["outcome"] == "applied"
    assert mine["services.TSM-SSH.running"]["outcome"] == "failed"
    assert "SystemError" in mine["services.TSM-SSH.running"]["error"]
    assert service(host(sim.connect(), "DC0_C0_H0"), "TSM-SSH").policy == "off"
    by_path = {(e.path, e.reason) for e in ws.events() if e.object.name == "DC0_C0_H0"}
    assert ("services.TSM-SSH.policy", "DriftRemediated") in by_path
    assert ("services.TSM-SSH.running", "RemediationFailed") in by_path
    assert ("services.TSM-SSH.policy", "RemediationFailed") not in by_path


def test_every_applied_change_has_its_intent_and_outcome(sim_factory, tmp_path, capsys):
    sim = sim_factory("-drift")
    ws = Workspace(tmp_path, sim)
    ws.policy("ssh", SSH)
    run = ws.vsr(capsys, "apply")
    assert run.code == 0, run.out
    applied = {(c["object"]["moid"], c["path"]) for c in run.changes(outcome="applied")}
    assert applied
    from reconciler.events.journal import Journal
    with Journal(ws.journal) as journal:
        intents = journal.intents(open_only=False)
        remediated = journal.query(reason="DriftRemediated")
    assert {(i.object.moid, i.path) for i in intents if i.outcome == "applied"} == applied
    assert all(i.closed is not None for i in intents)
    assert all(e.intent in {i.id for i in intents} for e in remediated)


def test_daemon_stops_writing_and_turns_unready_while_the_journal_cannot_be_written(fresh_sim, tmp_path):
    """The daemon's file-size limit is lowered to 1 byte while it runs (as a full disk: every journal write fails
    with EFBIG, a disk I/O error for SQLite): an out-of-band change is not remediated, /readyz is 503, /status says why, the failures
    are counted. With the limit lifted, the journal works again and the daemon converges and turns ready."""
    import resource
    import threading

    from harness import free_port, http_get

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "vc.yaml").write_text(fresh_sim.vcenter_yaml("sim"))
    (specs / "ssh.yaml").write_text("apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: ssh}\n"
                                    "spec:\n  selector: {hosts: [\"*\"]}\n  services: {TSM-SSH: {running: false}}\n")
    port, journal = free_port(), tmp_path / "journal.db"
    proc = subprocess.Popen([VSR, "run", str(specs), "--journal", str(journal), "--listen", f"127.0.0.1:{port}",
                             "--log-format", "json", "--log-level", "info", "--resync", "1h"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # a pipe: no size limit
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()
    try:
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, 30, "daemon ready")
        si = fresh_sim.connect()
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
        host(si, "DC0_C0_H0").configManager.serviceSystem.StartService(id="TSM-SSH")
        wait_for(lambda: http_get(port, "/readyz")[0] == 503, 20, "/readyz 503 while the journal fails")
        status = json.loads(http_get(port, "/status")[1])
        condition = next(c for c in status["conditions"] if c["type"] == "JournalWritable")
        assert (condition["status"], condition["reason"]) == ("False", "WriteFailed")
        assert "cannot write: disk I/O error" in condition["message"]  # EFBIG, as a full disk
        assert status["reason"].startswith("journal cannot be written: journal ")
        metrics = http_get(port, "/metrics")[1]
        failures = [line for line in metrics.splitlines() if line.startswith("vsr_journal_write_failures_total ")]
        assert failures and float(failures[0].split()[1]) >= 1
        time.sleep(2)
        assert service(host(si, "DC0_C0_H0"), "TSM-SSH").running is True, "nothing written without a record"
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait_for(lambda: service(host(si, "DC0_C0_H0"), "TSM-SSH").running is False, 40,
                 "remediation once the journal works again")
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, 20, "ready again")
        status = json.loads(http_get(port, "/status")[1])
        assert next(c for c in status["conditions"] if c["type"] == "JournalWritable")["status"] == "True"
        assert proc.poll() is None and not any("Traceback" in line for line in log)
    finally:
        proc.terminate()
        proc.wait(15)
    from reconciler.events.journal import Journal
    with Journal(journal) as j:
        fixed = [i for i in j.intents(open_only=False, object=None) if i.object.name == "DC0_C0_H0"]
    assert [i.outcome for i in fixed] == ["applied"]
