"""The executor's outcomes, end to end on the simulator (reconciler.engine.executor; issue 13 item 7).

The read-back decides each field's outcome: `applied` when the host now holds the desired value, `notEffective`
when the call returned but the host does not keep the value, `failed` for exactly the field whose call raised
(a sibling field of the same controller whose call went through is `applied`), `unknown` when the read-back itself
fails (the intent stays open; the next pass settles it). A change the lock-out guard refuses at apply time (the
executor judges the guards again before writing) is `skipped` with reason `guard` and never written.

Each case runs `vsr apply`, asserts exactly one outcome per field, the journal's write-ahead records (a
`RemediationStarted` intent before the write, one outcome event naming that intent) and reads the host back
through pyVmomi.

notEffective: the simulator behaves as ESXi: entering normal lockdown starts the DCUI if it is stopped. A policy
that wants the DCUI stopped and the host in normal lockdown therefore stops the DCUI (services apply first), then
lockdown starts it again: the services call returned, yet the read-back still differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from harness import Run, Workspace, host, option, service

from reconciler.cli import main as vsr_main
from reconciler.events.journal import Journal

pytestmark = pytest.mark.integration

HOST = "DC0_C0_H0"
ESX = "localhost.localdomain"
SELECT = f'selector: {{hosts: ["{HOST}"]}}\n'
READ_BACK = "read-back failed: RequestCanceled: The task was canceled by a user."
# the events an apply writes about its changes (detection events of the plan are not part of the outcome)
APPLY_REASONS = ("RemediationStarted", "DriftRemediated", "RemediationFailed", "RemediationUnverified",
                 "RemediationBlocked")


def lockdown_state(si: Any, name: str = HOST) -> tuple[str, list[str]]:
    access = host(si, name).configManager.hostAccessManager
    return str(access.lockdownMode), sorted(access.QueryLockdownExceptions() or [])


@dataclass(frozen=True)
class Case:
    id: str
    flags: tuple[str, ...]
    policy: str
    code: int                                  # exit code of `vsr apply`
    outcomes: dict[str, str]                   # field path -> outcome: exactly these fields change
    records: dict[str, str]                    # field path -> the outcome event after its RemediationStarted
    closed: dict[str, str | None]              # field path -> how its intent was closed (None: still open)
    read: Callable[[Any], Any]                 # what the host holds afterwards, read through pyVmomi
    holds: Any
    errors: dict[str, str] = field(default_factory=dict)   # field path -> exact error of the change
    messages: dict[str, str] = field(default_factory=dict)  # field path -> exact message of the change
    currents: dict[str, Any] = field(default_factory=dict)  # field path -> the boolean read back (not desired)


CASES = [
    Case("applied", (), SELECT + "services: {TSM-SSH: {running: true}}", 0,
         outcomes={"services.TSM-SSH.running": "applied"},
         records={"services.TSM-SSH.running": "DriftRemediated"},
         closed={"services.TSM-SSH.running": "applied"},
         read=lambda si: service(host(si, HOST), "TSM-SSH").running, holds=True),
    Case("notEffective", (), SELECT + "services: {DCUI: {running: false}}\nlockdown: {mode: normal}", 2,
         outcomes={"services.DCUI.running": "notEffective", "lockdown.mode": "applied"},
         records={"services.DCUI.running": "RemediationFailed", "lockdown.mode": "DriftRemediated"},
         closed={"services.DCUI.running": "notEffective", "lockdown.mode": "applied"},
         messages={"services.DCUI.running": "applied but not effective: the read-back still differs"},
         currents={"services.DCUI.running": True},
         read=lambda si: (service(host(si, HOST), "DCUI").running, lockdown_state(si)),
         holds=(True, ("lockdownNormal", []))),
    # the lockdown controller sets the exception users, then the mode; only the mode's call fails
    Case("failed", ("-fail", f"ChangeLockdownMode@{HOST}:/1:RequestCanceled"),
         SELECT + "lockdown: {mode: normal, exceptionUsers: [svc-backup]}", 1,
         outcomes={"lockdown.exceptionUsers": "applied", "lockdown.mode": "failed"},
         records={"lockdown.exceptionUsers": "DriftRemediated", "lockdown.mode": "RemediationFailed"},
         closed={"lockdown.exceptionUsers": "applied", "lockdown.mode": "failed"},
         errors={"lockdown.mode": "RequestCanceled: The task was canceled by a user."},
         read=lockdown_state, holds=("lockdownDisabled", ["svc-backup"])),
    # the write goes through; the read right after it is cancelled (a permanent fault: not retried)
    Case("unknown", ("-fail", "RetrievePropertiesEx:>UpdateOptions:RequestCanceled"),
         SELECT + "advancedSettings: {UserVars.DcuiTimeOut: 300}", 1,
         outcomes={"advancedSettings.UserVars.DcuiTimeOut": "unknown"},
         records={"advancedSettings.UserVars.DcuiTimeOut": "RemediationUnverified"},
         closed={"advancedSettings.UserVars.DcuiTimeOut": None},
         errors={"advancedSettings.UserVars.DcuiTimeOut": f"{READ_BACK}; verified on the next pass"},
         read=lambda si: option(host(si, HOST), "UserVars.DcuiTimeOut"), holds=300),
]


def one_outcome_per_field(run: Run, name: str) -> dict[str, dict[str, Any]]:
    """The object's changes by field path, failing when a field appears twice."""
    mine = run.changes(name=name)
    by_path = {c["path"]: c for c in mine}
    assert len(by_path) == len(mine), f"a field with more than one change: {[c['path'] for c in mine]}"
    return by_path


def apply_records(journal_path: Any, name: str) -> dict[str, list[Any]]:
    """The journal's apply events about one object, by field path, oldest first."""
    with Journal(journal_path) as journal:
        events = journal.query(object=name, reason=list(APPLY_REASONS))
    out: dict[str, list[Any]] = {}
    for event in events:
        out.setdefault(event.path, []).append(event)
    return out


def intents_by_path(journal_path: Any, name: str) -> dict[str, Any]:
    with Journal(journal_path) as journal:
        return {i.path: i for i in journal.intents(open_only=False) if i.object.name == name}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_outcome_of_each_field(case: Case, sim_factory, tmp_path, capsys):
    sim = sim_factory(*case.flags)
    ws = Workspace(tmp_path, sim)
    ws.policy("outcomes", case.policy)
    run = ws.vsr(capsys, "apply")
    assert run.code == case.code, run.out + run.err

    changes = one_outcome_per_field(run, HOST)
    assert {path: c["outcome"] for path, c in changes.items()} == case.outcomes
    for path, error in case.errors.items():
        assert changes[path]["error"] == error
    for path, message in case.messages.items():
        assert changes[path]["message"] == message
    for path, current in case.currents.items():
        assert (changes[path]["current"], changes[path]["desired"]) == (current, not current)
    for path, outcome in case.outcomes.items():
        if outcome == "applied":
            assert changes[path]["error"] in ("", None), changes[path]

    records = apply_records(ws.journal, HOST)
    intents = intents_by_path(ws.journal, HOST)
    assert set(records) == set(case.records) == set(intents)
    for path, reason in case.records.items():
        started, settled = records[path]
        assert (started.reason, settled.reason) == ("RemediationStarted", reason), records[path]
        assert started.intent == intents[path].id and settled.intent == started.intent
        assert started.desired == changes[path]["desired"]
        assert intents[path].outcome == case.closed[path]
        assert (intents[path].closed is None) == (case.closed[path] is None)

    assert case.read(sim.connect()) == case.holds


def test_an_unknown_outcome_is_settled_by_the_next_pass(sim_factory, tmp_path, capsys):
    """The intent left open by a failed read-back is verified against the live value on the next apply."""
    sim = sim_factory("-fail", "RetrievePropertiesEx:>UpdateOptions:RequestCanceled")
    ws = Workspace(tmp_path, sim)
    ws.policy("timeout", SELECT + "advancedSettings: {UserVars.DcuiTimeOut: 300}")
    first = ws.vsr(capsys, "apply")
    (change,) = first.changes(name=HOST)
    assert change["outcome"] == "unknown"
    (intent,) = intents_by_path(ws.journal, HOST).values()
    assert intent.closed is None

    again = ws.vsr(capsys, "apply")
    assert again.code == 0, again.out + again.err
    assert again.changes(name=HOST) == [], "nothing differs any more: the write had gone through"
    assert ("sim: settled 1 open intent(s) of an interrupted run: 1 applied, 0 not effective (see `vsr events "
            "--reason RemediationFailed`)") in again.json["notes"]
    (settled,) = intents_by_path(ws.journal, HOST).values()
    assert (settled.id, settled.outcome) == (intent.id, "applied") and settled.closed is not None
    assert option(host(sim.connect(), HOST), "UserVars.DcuiTimeOut") == 300


def test_a_change_the_guard_refuses_at_apply_time_is_skipped_and_never_written(sim_factory, tmp_path, capsys):
    """A saved plan enters lockdown with vsr's own login as exception user. Before it is applied, someone sets
    another exception user on the host: the saved exception-user change is stale (held back), so the host's
    list stays in effect and does not admit vsr. Planning again passes the guard (it still counts on the saved
    list); only the executor's guard pass, after the saved plan's stale marks, refuses the lockdown mode."""
    esx = sim_factory("-esx")
    ws = Workspace(tmp_path, esx)
    ws.policy("lockdown", f'selector: {{hosts: ["*"]}}\nlockdown: {{mode: normal, exceptionUsers: [{esx.username}]}}')
    saved = tmp_path / "reviewed.plan"
    assert vsr_main(["plan", str(ws.specs), "--out", str(saved)]) == 2
    access = host(esx.connect(), ESX).configManager.hostAccessManager
    access.UpdateLockdownExceptions(users=["backup-agent"])

    capsys.readouterr()
    code = vsr_main(["apply", str(saved), "-o", "json", "--journal", str(ws.journal)])
    run = Run(code, *capsys.readouterr())
    changes = one_outcome_per_field(run, ESX)
    assert {p: (c["reason"], c["outcome"]) for p, c in changes.items()} == {
        "lockdown.exceptionUsers": ("stale", "planned"), "lockdown.mode": ("guard", "skipped")}
    assert changes["lockdown.mode"]["message"] == (
        f"refusing lockdown mode 'normal': the reconciler connects directly to this host as the user in "
        f"{esx.username_file}, which is not a lockdown exception user; add it to lockdown.exceptionUsers or "
        "connect through vCenter")
    assert run.code == 2, run.out + run.err

    records = apply_records(ws.journal, ESX)
    assert {p: [e.reason for e in events] for p, events in records.items()} == {
        "lockdown.mode": ["RemediationBlocked"]}, "no intent: nothing was written"
    assert intents_by_path(ws.journal, ESX) == {}
    assert lockdown_state(esx.connect(), ESX) == ("lockdownDisabled", ["backup-agent"])
