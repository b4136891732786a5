"""Every message docs/cli.md quotes is what vsr prints (issue 14): the plan example is rendered from the same
plan, and each quoted `error: ...`, `warning: ...`, `note: ...` and summary line is produced by the code here."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from reconciler import progress
from reconciler.commands._planning import Planned
from reconciler.commands._progress import Bars
from reconciler.commands.explain import explain
from reconciler.controllers.contract import Skip
from reconciler.engine import targets
from reconciler.engine.coverage import Unmatched
from reconciler.engine.runner import RunResult
from reconciler.engine.types import Change, Plan
from reconciler.events.model import ObjectRef
from reconciler.report.grouping import summary
from reconciler.report.plan_output import render_text

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
PREFIXES = ("error: ", "warning: ", "note: ", "No changes: ", "planning ")


class _VPlan:
    def __init__(self, changes: list[Change], objects: int) -> None:
        self.vcenter = "lab"
        self.plan = Plan(changes=changes, objects_checked=objects)


def example_plan() -> str:
    def h(i: int) -> ObjectRef:
        return ObjectRef("HostSystem", f"host-{i}", f"esx-{i:02d}", "lab")

    ssh = ("esxi-8.deactivate-ssh", "ESXI-80-000193")
    changes = []
    for i in range(32):
        changes += [
            Change(h(i), "hostServices", ("services", "TSM-SSH", "running"), True, False, policy="scg-8-host",
                   source="specs/scg-8/host.yaml:16", controls=ssh),
            Change(h(i), "hostServices", ("services", "TSM-SSH", "policy"), "on", "off", policy="scg-8-host",
                   source="specs/scg-8/host.yaml:16", controls=ssh),
            Change(h(i), "hostAdvanced", ("advancedSettings", "UserVars.DcuiTimeOut"), 0, 600, policy="scg-8-host",
                   source="specs/scg-8/host.yaml:31", controls=("esxi-8.dcui-timeout", "ESXI-80-000079"))]
    banner = ("advancedSettings", "Annotations.WelcomeMessage")
    changes += [Change(h(i), "hostAdvanced", banner, "", "Authorized use only", policy="site",
                       source="specs/site.yaml:12") for i in range(30)]
    changes.append(Change(h(30), "hostAdvanced", banner, "", "Authorized use only", policy="site",
                          source="specs/site.yaml:12", reason=Skip.WAIVED,
                          message="waived by banner-lab until 2027-01-31"))
    return render_text(RunResult(plans=[_VPlan(changes, 32)]))  # type: ignore[list-item]


def printed() -> list[str]:
    """Messages the documented situations produce."""
    found = Planned()
    found.target = targets.parse(["esx-0*"])
    found.unmatched_targets = ["object=nope*"]
    found.unmatched = [Unmatched("HostSecurityPolicy", "nobody", "specs/nobody.yaml:1", ("lab",))]
    out = list(found.notes)
    try:
        targets.parse(["colour=red"])
    except targets.TargetError as exc:
        out.append(f"error: {exc}")
    out.append(explain("HostSecurityPolicy.servics")[0])
    out.append(summary([], applied=False, objects_checked=7))
    out.extend(spinner_texts())
    return out


def spinner_texts() -> list[str]:
    """What the planning spinner shows for vCenter `lab` (1 of 3): before the first phase and in each phase."""
    seen: list[str] = []
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with Bars(enabled=True, console=console) as bars, bars.planning("lab", 1, 3):
        seen.append(bars.progress.tasks[0].description)
        for phase in ("reading inventory", "selecting policies", "reading related objects", "checking objects"):
            progress.report(phase, 0, None)
            seen.append(bars.progress.tasks[0].description)
    return seen


def quoted() -> list[str]:
    text = re.sub(r"```.*?```", "", DOC.read_text(encoding="utf-8"), flags=re.S)  # code blocks aside
    spans = [" ".join(m.split()) for m in re.findall(r"`([^`]+)`", text, re.S)]
    return [s for s in spans if s.startswith(PREFIXES)]


def _pattern(message: str) -> re.Pattern[str]:
    parts = re.split(r"(\.\.\.|\bN\b)", message)
    regex = "".join(".*" if p == "..." else r"\d+" if p == "N" else re.escape(p) for p in parts)
    return re.compile(regex + "$")


def test_plan_example_is_what_vsr_prints():
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- plan-example.*?-->\n```text\n(.*?)```", text, re.S)
    assert block is not None
    assert block.group(1) == example_plan()


def test_every_quoted_message_is_printed():
    messages = quoted()
    assert len(messages) >= 6, messages
    produced = [" ".join(m.split()) for m in printed()]
    for message in messages:
        assert any(_pattern(message).match(p) for p in produced), f"docs/cli.md quotes {message!r}; vsr prints {produced}"
