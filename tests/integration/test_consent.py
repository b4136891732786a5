"""Consent and integrity of `vsr apply` (issue 12 items 6 and 7), end to end against the simulator: `vsr` runs as
a child process (without a terminal, or on a pseudo-terminal) and every outcome is read back through pyVmomi."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import Workspace, host, service

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
H0, H1, H2 = "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"
SSH_OFF = 'selector: {hosts: ["*"]}\nservices: {TSM-SSH: {running: false, policy: "off"}}\n'


@pytest.fixture
def ws(tmp_path, fresh_sim):
    return Workspace(tmp_path, fresh_sim)


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def cli(ws: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler.cli", *args, "--journal", str(ws.journal)]


def vsr(ws: Workspace, *args: str) -> subprocess.CompletedProcess:
    """`vsr ARGS` as a child without a terminal (stdin is /dev/null)."""
    return subprocess.run(cli(ws, *args), stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env(),
                          timeout=120)


def on_terminal(ws: Workspace, answer: str, *args: str) -> tuple[int, str, str]:
    """`vsr ARGS` on a pseudo-terminal: waits for the question, types `answer`; (exit code, output before the
    question, output after it)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cli(ws, *args), stdin=slave, stdout=slave, stderr=slave, env=env(), close_fds=True)
    os.close(slave)
    before, after = b"", b""
    deadline = time.monotonic() + 120
    try:
        while b"[y/N]" not in before:
            assert time.monotonic() < deadline, f"no question within 120 s: {before!r}"
            if select.select([master], [], [], 1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child ended without asking
                    break
                if not chunk:
                    break
                before += chunk
        assert b"[y/N]" in before, f"vsr did not ask: {before.decode(errors='replace')}"
        os.write(master, answer.encode() + b"\n")
        while True:
            assert time.monotonic() < deadline, "vsr did not finish within 120 s"
            if select.select([master], [], [], 1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                after += chunk
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, before.decode(errors="replace"), after.decode(errors="replace")


def ssh(si, name: str) -> tuple[bool, str]:
    s = service(host(si, name), "TSM-SSH")
    return bool(s.running), str(s.policy)


def start_ssh(si, name: str, policy: str = "on") -> None:
    system = host(si, name).configManager.serviceSystem
    system.UpdateServicePolicy(id="TSM-SSH", policy=policy)
    system.StartService(id="TSM-SSH")


def changes(out: str, **match) -> list[dict]:
    found = []
    for change in json.loads(out)["changes"]:
        if "name" in match and change["object"]["name"] != match["name"]:
            continue
        if all(change.get(k) == v for k, v in match.items() if k != "name"):
            found.append(change)
    return found


# ---------------------------------------------------------------- item 6: consent


def test_apply_without_terminal_and_without_yes_refuses(ws):
    si = ws.sim.connect()
    start_ssh(si, H0)
    ws.policy("ssh-off", SSH_OFF)
    run = vsr(ws, "apply", str(ws.specs))
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        "refusing to apply without consent: standard input is not a terminal; review with `vsr plan`, then pass "
        "--yes, or save the plan with `vsr plan PATH... --out FILE` and run `vsr apply FILE`"]
    assert run.stdout == ""
    assert ssh(si, H0) == (True, "on"), "nothing may change without consent"


def test_terminal_shows_the_plan_then_asks_and_no_changes_nothing(ws):
    si = ws.sim.connect()
    start_ssh(si, H0)
    ws.policy("ssh-off", SSH_OFF)
    code, before, after = on_terminal(ws, "n", "apply", str(ws.specs))
    assert code == 1, before + after
    question = before.index("[y/N]")
    shown = before[:question]
    assert f"1 host: services.TSM-SSH.running true → false — {H0}" in shown, before  # grouped (issue 14)
    assert "Apply these 2 change(s) to 1 object(s)?" in before
    assert "aborted: nothing was changed" in after
    assert ssh(si, H0) == (True, "on")


def test_terminal_yes_applies_the_plan_shown(ws):
    si = ws.sim.connect()
    start_ssh(si, H0)
    ws.policy("ssh-off", SSH_OFF)
    code, before, after = on_terminal(ws, "y", "apply", str(ws.specs))
    assert code == 0, before + after
    assert f"1 host: services.TSM-SSH.running true → false — {H0}" in before
    assert "2 fixed" in after
    assert ssh(si, H0) == (False, "off")


def test_saved_plan_round_trip(ws, tmp_path):
    si = ws.sim.connect()
    start_ssh(si, H0)
    start_ssh(si, H1)
    ws.policy("ssh-off", SSH_OFF)
    saved = tmp_path / "reviewed.plan"  # detected by content, not by extension
    planned = vsr(ws, "plan", str(ws.specs), "--out", str(saved))
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"saved plan: {saved} (4 change(s) to apply" in planned.stderr
    doc = json.loads(saved.read_text())
    assert doc["kind"] == "vsr.plan/v1" and doc["specPaths"] == [str(ws.specs.resolve())]
    assert doc["specRevision"]["digest"].startswith("sha256:")
    (vc,) = doc["vcenters"]
    assert (vc["name"], vc["server"]) == ("sim", ws.sim.server)
    assert sorted((c["object"]["name"], c["path"], c["current"], c["desired"]) for c in vc["changes"]) == [
        (H0, "services.TSM-SSH.policy", "on", "off"), (H0, "services.TSM-SSH.running", True, False),
        (H1, "services.TSM-SSH.policy", "on", "off"), (H1, "services.TSM-SSH.running", True, False)]
    assert ws.sim.password not in saved.read_text()
    assert ssh(si, H0) == (True, "on"), "plan --out changes nothing"

    applied = vsr(ws, "apply", str(saved), "-o", "json")  # no terminal, no --yes: the saved plan is the consent
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert sorted(c["outcome"] for c in changes(applied.stdout)) == ["applied"] * 4
    assert ssh(si, H0) == (False, "off") and ssh(si, H1) == (False, "off")


def test_saved_plan_skips_stale_fields_and_drift_that_appeared_later(ws, tmp_path):
    si = ws.sim.connect()
    start_ssh(si, H0)
    start_ssh(si, H2)
    ws.policy("ssh-off", SSH_OFF)
    saved = tmp_path / "plan.json"
    assert vsr(ws, "plan", str(ws.specs), "--out", str(saved)).returncode == 2

    # out of band, after the review: H0's policy moves to another wrong value, H2 is fixed by hand, and H1
    # drifts for the first time
    host(si, H0).configManager.serviceSystem.UpdateServicePolicy(id="TSM-SSH", policy="automatic")
    system = host(si, H2).configManager.serviceSystem
    system.StopService(id="TSM-SSH")
    system.UpdateServicePolicy(id="TSM-SSH", policy="off")
    start_ssh(si, H1)

    run = vsr(ws, "apply", str(saved), "-o", "json")
    assert run.returncode == 2, run.stdout + run.stderr  # drift remains: the stale field and the new drift
    (running,) = changes(run.stdout, name=H0, path="services.TSM-SSH.running")
    assert running["outcome"] == "applied" and running["reason"] is None
    (stale,) = changes(run.stdout, name=H0, path="services.TSM-SSH.policy")
    assert stale["reason"] == "stale" and stale["outcome"] == "planned"
    assert stale["message"] == ("stale: the live value is now automatic, the saved plan expected on; "
                                "not applied")
    later = changes(run.stdout, name=H1)
    assert sorted(c["reason"] for c in later) == ["notInSavedPlan", "notInSavedPlan"]
    notes = json.loads(run.stdout)["notes"]
    assert f"sim: stale: HostSystem {H2} services.TSM-SSH.running: planned true -> false, but it no longer " \
           "differs; skipped" in notes
    assert ssh(si, H0) == (False, "automatic"), "the stale field keeps its live value"
    assert ssh(si, H1) == (True, "on"), "drift that is not in the saved plan is never applied"
    assert ssh(si, H2) == (False, "off")


def test_saved_plan_warns_when_the_specs_changed(ws, tmp_path):
    si = ws.sim.connect()
    start_ssh(si, H0)
    ws.policy("ssh-off", SSH_OFF)
    saved = tmp_path / "plan.json"
    assert vsr(ws, "plan", str(ws.specs), "--out", str(saved)).returncode == 2
    ws.policy("ssh-off", SSH_OFF.replace('policy: "off"', 'policy: "automatic"'))
    run = vsr(ws, "apply", str(saved), "-o", "json")
    assert "warning: the specs changed since the plan was saved" in run.stderr
    (stale,) = changes(run.stdout, name=H0, path="services.TSM-SSH.policy")
    assert stale["reason"] == "stale" and "the specs now want automatic" in stale["message"]
    assert ssh(si, H0) == (False, "on"), "the still-valid change applies, the changed one does not"
    assert run.returncode == 2


# ---------------------------------------------------------------- item 7: invalid documents

OVERRIDE_WITH_TYPO = f"""
    selector: {{hosts: ["{H0}"]}}
    priority: 10
    services: {{TSM-SSH: {{running: true, polcy: "on"}}}}
"""


def test_apply_refuses_when_a_document_fails_to_load(ws):
    si = ws.sim.connect()
    start_ssh(si, H0)  # the exception the override is meant to keep
    start_ssh(si, H1)
    ws.policy("ssh-off", SSH_OFF)
    ws.policy("ssh-on-h0", OVERRIDE_WITH_TYPO)
    run = vsr(ws, "apply", str(ws.specs), "--yes")
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {ws.specs / 'ssh-on-h0.yaml'}:") and "HostSecurityPolicy/ssh-on-h0" in lines[0]
    assert "polcy" in lines[0]
    assert lines[-1].startswith("refusing to apply: 1 problem(s) in the specs (listed above)")
    assert ssh(si, H0) == (True, "on") and ssh(si, H1) == (True, "on"), "nothing is changed"

    plan = vsr(ws, "plan", str(ws.specs))
    assert plan.returncode == 1
    assert (f"1 document(s) failed to load and were left out: {ws.specs / 'ssh-on-h0.yaml'}:"
            in plan.stdout) and "HostSecurityPolicy/ssh-on-h0; `vsr apply` refuses" in plan.stdout


def test_allow_invalid_applies_the_valid_documents(ws):
    si = ws.sim.connect()
    start_ssh(si, H1)
    ws.policy("ssh-off", SSH_OFF)
    ws.policy("ssh-on-h0", OVERRIDE_WITH_TYPO)
    run = vsr(ws, "apply", str(ws.specs), "--yes", "--allow-invalid", "-o", "json")
    assert run.returncode == 1, run.stdout + run.stderr  # the invalid document is still an error
    assert "warning: applying without the document(s) that failed to load (1 problem(s), --allow-invalid)" \
        in run.stderr
    assert [c["outcome"] for c in changes(run.stdout, name=H1)] == ["applied", "applied"]
    assert ssh(si, H1) == (False, "off")
