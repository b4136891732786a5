"""`vsr` for people against the simulator (issue 14): grouped plans with a summary line, -o yaml, --target,
`vsr plan` read-only unless --record, --strict, unmatched policies and exit codes."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from harness import Workspace, host, service

from reconciler.cli import main

SSH_OFF = 'selector: {hosts: ["*"]}\nservices: {TSM-SSH: {running: false, policy: "off"}}\n'


@pytest.fixture
def ws(tmp_path, fresh_sim):
    si = fresh_sim.connect()
    for name in ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"):
        system = host(si, name).configManager.serviceSystem
        system.UpdateServicePolicy(id="TSM-SSH", policy="on")
        system.StartService(id="TSM-SSH")
    return Workspace(tmp_path, fresh_sim)


def plan(ws: Workspace, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["plan", str(ws.specs), "--journal", str(ws.journal), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_plan_groups_identical_changes_with_a_summary_line(ws, capsys):
    ws.policy("ssh-off", SSH_OFF)
    code, out, _ = plan(ws, capsys)
    assert code == 2
    lines = out.splitlines()
    running = [line for line in lines if "services.TSM-SSH.running" in line]
    assert running == ["~ 3 hosts: services.TSM-SSH.running true → false — DC0_C0_H0, DC0_C0_H1, DC0_C0_H2"], out
    assert "\x1b[" not in out, "no colour off a terminal"
    assert lines[-1] == "Plan: 6 changes on 3 hosts", out


def test_detail_lists_every_object(ws, capsys):
    ws.policy("ssh-off", SSH_OFF)
    _, out, _ = plan(ws, capsys, "--detail")
    headers = [line.split(" (")[0] for line in out.splitlines() if line.startswith("HostSystem ")]
    assert headers == ["HostSystem DC0_C0_H0", "HostSystem DC0_C0_H1", "HostSystem DC0_C0_H2"], out
    assert out.count("~ services.TSM-SSH.running: true → false") == 3


def test_yaml_is_the_json_document(ws, capsys):
    ws.policy("ssh-off", SSH_OFF)
    _, as_json, _ = plan(ws, capsys, "-o", "json")
    _, as_yaml, _ = plan(ws, capsys, "-o", "yaml")
    assert yaml.safe_load(as_yaml) == json.loads(as_json)


def test_plan_writes_no_journal_unless_record(ws, capsys):
    ws.policy("ssh-off", SSH_OFF)
    assert plan(ws, capsys)[0] == 2 and not ws.journal.exists()
    assert plan(ws, capsys, "--record")[0] == 2
    assert {e.object.name for e in ws.events("DriftDetected")} == {"DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"}


def test_target_restricts_plan_saved_plan_and_apply(ws, capsys, tmp_path):
    ws.policy("ssh-off", SSH_OFF)
    code, out, _ = plan(ws, capsys, "-l", "*H1", "-o", "json", "--out", str(tmp_path / "p.json"))
    assert code == 2 and {c["object"]["name"] for c in json.loads(out)["changes"]} == {"DC0_C0_H1"}
    saved = json.loads((tmp_path / "p.json").read_text())
    assert {c["object"]["name"] for vc in saved["vcenters"] for c in vc["changes"]} == {"DC0_C0_H1"}
    # drift outside the saved plan remains (and is reported as notInSavedPlan): exit 2
    assert main(["apply", str(tmp_path / "p.json"), "--journal", str(ws.journal), "-o", "json"]) == 2
    si = ws.sim.connect()
    assert not service(host(si, "DC0_C0_H1"), "TSM-SSH").running
    assert service(host(si, "DC0_C0_H0"), "TSM-SSH").running, "an object outside --target is never changed"
    capsys.readouterr()
    assert main(["apply", str(ws.specs), "--journal", str(ws.journal), "--yes", "-l", "DC0_C0_H2"]) == 0
    assert not service(host(si, "DC0_C0_H2"), "TSM-SSH").running
    assert service(host(si, "DC0_C0_H0"), "TSM-SSH").running


def test_target_that_selects_nothing_is_named_and_a_bad_one_is_an_error(ws, capsys):
    ws.policy("ssh-off", SSH_OFF)
    code, out, _ = plan(ws, capsys, "-l", "nope*")
    assert code == 0 and "warning: --target object=nope* selects nothing" in out
    code, _, err = plan(ws, capsys, "-l", "colour=red")
    assert code == 1 and err.strip() == ("error: --target colour=red: unknown selector 'colour'; use NAME, "
                                         "object=NAME, policy=NAME or control=ID")


def test_policy_matching_no_object_is_reported_by_name(ws, capsys):
    ws.policy("ssh-off", SSH_OFF)
    ws.policy("nobody", 'selector: {hosts: ["no-such-host-*"]}\nservices: {TSM: {running: false}}\n')
    _, out, _ = plan(ws, capsys)
    assert re.search(r"^warning: HostSecurityPolicy nobody \(.*nobody\.yaml:\d+\): its selector matches no "
                     r"object on sim$", out, re.M), out
    _, as_json, _ = plan(ws, capsys, "-o", "json")
    assert [u["name"] for u in json.loads(as_json)["unmatchedPolicies"]] == ["nobody"]


def test_unsupported_fields_exit_0_unless_strict(tmp_path, sim_factory, capsys):
    ws = Workspace(tmp_path, sim_factory("-plain"))
    ws.policy("all", 'selector: {hosts: ["*"]}\nlockdown: {mode: normal}\n')
    code, out, _ = plan(ws, capsys, "-o", "json")
    assert code == 0 and {c["reason"] for c in json.loads(out)["changes"]} == {"unsupported"}, out
    code, out, _ = plan(ws, capsys, "-o", "json", "--strict")
    assert code == 2 and json.loads(out)["exitCode"] == 2


def test_usage_error_exits_1(ws, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", str(ws.specs), "--no-such-flag"])
    assert exc.value.code == 1


def test_planning_reports_each_phase_with_object_counts(ws, capsys, monkeypatch):
    """The planning phase is not silent: the planner reports reading inventory, selecting policies and checking
    objects (with the number of objects) to the listener the CLI's bars install."""
    from reconciler import progress

    seen: list[tuple[str, int, int | None]] = []
    monkeypatch.setattr(progress, "report", lambda phase, done, total=None: seen.append((phase, done, total)))
    ws.policy("ssh-off", SSH_OFF)
    code, out, _ = plan(ws, capsys, "-o", "json")
    assert code == 2
    checked = json.loads(out)["summary"]["objects"]
    assert checked > 0
    phases = [p for p, _, _ in seen]
    assert phases.index("reading inventory") < phases.index("selecting policies") < phases.index("checking objects")
    assert ("checking objects", 0, checked) in seen
    inventory_counts = [d for p, d, _ in seen if p == "reading inventory"]
    assert max(inventory_counts) >= checked
