"""Grouped text plans, summary lines, markers and colour (issue 14 item 1), exit codes (item 7), targets (3)."""

from __future__ import annotations

from reconciler.controllers.contract import Skip
from reconciler.engine import exitcodes, targets
from reconciler.engine.runner import RunResult
from reconciler.engine.types import Change, Outcome, Plan
from reconciler.events.model import ObjectRef
from reconciler.report.grouping import group, natural_key, summary, value_text
from reconciler.report.plan_output import render_text


class _VPlan:
    def __init__(self, changes, objects=0):
        self.vcenter = "lab"
        self.plan = Plan(changes=changes, objects_checked=objects)


def host(i: int) -> ObjectRef:
    return ObjectRef("HostSystem", f"host-{i}", f"DC0_C0_H{i}", "lab")


def ssh(i: int, **kw) -> Change:
    return Change(host(i), "hostServices", ("services", "TSM-SSH", "running"), True, False, policy="ssh-off", **kw)


def result(changes, objects=32) -> RunResult:
    return RunResult(plans=[_VPlan(changes, objects)])  # type: ignore[list-item]


def test_32_hosts_are_one_line_and_one_summary():
    changes = [ssh(i) for i in range(32)] + [
        Change(host(i), "hostAdvanced", ("advancedSettings", "UserVars.DcuiTimeOut"), 0, 600, policy="p")
        for i in range(32)]
    text = render_text(result(changes))
    lines = text.splitlines()
    assert "~ 32 hosts: services.TSM-SSH.running true → false — DC0_C0_H0, DC0_C0_H1, DC0_C0_H2, … +29" in lines
    assert lines[-1] == "Plan: 64 changes on 32 hosts"
    assert len(lines) <= 8


def test_names_sort_numbers_as_numbers():
    assert sorted(["esx-10", "esx-2", "ESX-1", "esx-1", "a"], key=natural_key) == ["a", "ESX-1", "esx-1", "esx-2",
                                                                                    "esx-10"]
    assert sorted(["DC0_C0_H10", "DC0_C1_H0", "DC0_C0_H9"], key=natural_key) == ["DC0_C0_H9", "DC0_C0_H10",
                                                                                  "DC0_C1_H0"]
    assert sorted(["10", "9a", "x"], key=natural_key) == ["9a", "10", "x"]


def test_summary_counts_pending_and_waived():
    changes = [ssh(i) for i in range(3)] + [ssh(3, reason=Skip.NEEDS_POWER_OFF), ssh(4, reason=Skip.WAIVED)]
    assert summary(changes, applied=False, objects_checked=5) == "Plan: 3 changes on 3 hosts, 1 pending power cycle, 1 waived"
    assert summary([], applied=False, objects_checked=5) == "No changes: 5 object(s) checked, all compliant."
    done = [ssh(0, outcome=Outcome.APPLIED), ssh(1, outcome=Outcome.FAILED)]
    assert summary(done, applied=True, objects_checked=2) == "Applied: 1 fixed, 1 failed on 2 hosts"


def test_empty_values_and_markers():
    assert value_text("") == '""' and value_text(None) == "unset" and value_text(" x") == '" x"'
    assert value_text([1, 2]) == "[1, 2]" and value_text("on") == "on"
    added = Change(host(0), "c", ("advancedSettings", "Annotations.WelcomeMessage"), None, "hi")
    removed = Change(host(0), "c", ("services", "x"), "a", None)
    skipped = ssh(0, reason=Skip.UNSUPPORTED)
    assert [g.mark for g in group([added, removed, skipped])] == ["+", "!", "-"]


def test_colour_only_when_asked_and_detail_lists_objects():
    plain = render_text(result([ssh(0), ssh(1)]))
    coloured = render_text(result([ssh(0), ssh(1)]), color=True)
    assert "\x1b[" not in plain and "\x1b[33m~\x1b[0m 2 hosts" in coloured
    detail = render_text(result([ssh(0), ssh(1)]), detail=True)
    assert "HostSystem DC0_C0_H0 (host-0, lab)" in detail and "  ~ services.TSM-SSH.running: true → false" in detail


def test_exit_codes_lenient_unless_strict():
    for reason in (Skip.UNSUPPORTED, Skip.WAIVED, Skip.NEEDS_POWER_OFF, Skip.PENDING_POWER_CYCLE):
        assert exitcodes.exit_code(False, [ssh(0, reason=reason)]) == 0, reason
        assert exitcodes.exit_code(False, [ssh(0, reason=reason)], strict=True) == 2, reason
    assert exitcodes.exit_code(False, [ssh(0, reason=Skip.GUARD)]) == 2
    assert exitcodes.exit_code(False, [ssh(0, outcome=Outcome.APPLIED)], strict=True) == 0
    assert exitcodes.exit_code(True, []) == 1


def test_target_parsing_and_matching():
    t = targets.parse(["DC0_C0_H1,policy=ssh-*", "control=ESXI-80-000193"])
    assert t == targets.Target(("DC0_C0_H1",), ("ssh-*",), ("ESXI-80-000193",))
    assert targets.change_matches(t, ssh(1)) and not targets.change_matches(t, ssh(2))
    assert not targets.change_matches(targets.parse(["control=ESXI-80-000999"]), ssh(1))
    assert targets.change_matches(targets.parse(["dc0_c0_h*"]), ssh(5)), "globs are case-insensitive"
    for bad, message in (("colour=red", "unknown selector 'colour'"), ("policy=", "empty policy pattern")):
        try:
            targets.parse([bad])
        except targets.TargetError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(bad)
