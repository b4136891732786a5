"""The saved-plan format (`vsr plan --out`) and how a fresh plan is restricted to it (`vsr apply FILE`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from reconciler.api import load_text
from reconciler.cli import main
from reconciler.controllers.contract import ConnectionFacts, ObjectState, Skip
from reconciler.engine import saved_plan
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.types import Change, Plan
from reconciler.events.model import ObjectRef

H0 = ObjectRef("HostSystem", "host-1", "esx-01", "vc1")
H1 = ObjectRef("HostSystem", "host-2", "esx-02", "vc1")
RUNNING = ("services", "TSM-SSH", "running")
POLICY = ("services", "TSM-SSH", "policy")
ALLOWED = ("firewall", "sshServer", "allowedIPs")


def change(ref: ObjectRef, path: tuple[str, ...], current, desired, **kw) -> Change:
    controller = kw.pop("controller", path[0])
    return Change(ref, controller, path, current, desired, policy="ssh-off", source="specs/p.yaml:3", **kw)


def vcenter_plan(*changes: Change) -> VCenterPlan:
    objects: dict[str, PlannedObject] = {}
    for c in changes:
        po = objects.setdefault(c.object.moid, PlannedObject(ObjectState(c.object, {}), {}))
        po.changes.append(c)
    plan = Plan(changes=list(changes))
    return VCenterPlan("vc1", ConnectionFacts("vc1", True, "u", None), list(objects.values()), plan)


def saved(tmp_path: Path, *changes: Change) -> saved_plan.SavedPlan:
    doc = saved_plan.document([vcenter_plan(*changes)], {"vc1": "vcsa:443"}, [str(tmp_path)],
                              {"digest": "sha256:ab"}, now=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    path = tmp_path / "plan"
    saved_plan.write(path, doc)
    return saved_plan.load(path)


def test_document_holds_only_actionable_changes_with_values(tmp_path: Path) -> None:
    doc = saved_plan.document(
        [vcenter_plan(change(H0, RUNNING, True, False), change(H0, POLICY, "on", "off", reason=Skip.WAIVED),
                      change(H1, ALLOWED, ("10.0.0.0/8",), ["192.0.2.0/24"], subject="ssh"))],
        {"vc1": "vcsa:443"}, ["specs"], {"digest": "sha256:ab", "git": "c0ffee"},
        now=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    assert doc == {
        "kind": "vsr.plan/v1",
        "created": "2030-01-02T03:04:05+00:00",
        "specPaths": [str(Path("specs").resolve())],
        "specRevision": {"digest": "sha256:ab", "git": "c0ffee"},
        "vcenters": [{"name": "vc1", "server": "vcsa:443", "changes": [
            {"object": {"type": "HostSystem", "moid": "host-1", "name": "esx-01"}, "controller": "services",
             "path": "services.TSM-SSH.running", "subject": None, "current": True, "desired": False,
             "policy": "ssh-off", "source": "specs/p.yaml:3"},
            {"object": {"type": "HostSystem", "moid": "host-2", "name": "esx-02"}, "controller": "firewall",
             "path": "firewall.sshServer.allowedIPs", "subject": "ssh", "current": ["10.0.0.0/8"],
             "desired": ["192.0.2.0/24"], "policy": "ssh-off", "source": "specs/p.yaml:3"},
        ]}],
    }


def test_round_trip_and_detection_by_content(tmp_path: Path) -> None:
    plan = saved(tmp_path, change(H0, RUNNING, True, False))
    assert saved_plan.sniff(tmp_path / "plan")
    assert plan.created == "2030-01-02T03:04:05+00:00" and plan.revision == {"digest": "sha256:ab"}
    key = ("HostSystem", "host-1", "services", "services.TSM-SSH.running", "")
    assert plan.vcenters["vc1"].server == "vcsa:443"
    assert plan.vcenters["vc1"].changes[key] == saved_plan.SavedChange(key, "esx-01", True, False)
    spec = tmp_path / "policy.json"  # a JSON spec file is a spec, not a saved plan
    spec.write_text('{"apiVersion": "vsr.dev/v1alpha1", "kind": "HostSecurityPolicy"}')
    assert not saved_plan.sniff(spec) and not saved_plan.sniff(tmp_path) and not saved_plan.sniff(tmp_path / "x")
    named = tmp_path / "named.json"  # the kind string elsewhere is not enough
    named.write_text('{"kind": "HostSecurityPolicy", "metadata": {"name": "vsr.plan/v1"}}')
    assert not saved_plan.sniff(named)


def test_a_saved_plan_is_applied_on_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved(tmp_path, change(H0, RUNNING, True, False))
    code = main(["apply", str(tmp_path / "plan"), str(tmp_path), "--journal", str(tmp_path / "j.db")])
    assert code == 1
    assert capsys.readouterr().err == (f"error: {tmp_path}/plan: a saved plan is applied on its own: "
                                       f"vsr apply {tmp_path}/plan\n")


@pytest.mark.parametrize("text,message", [
    ("{not json", "plan:1: not a saved plan: invalid JSON: Expecting property name enclosed in double quotes"),
    ('{"kind": "vsr.plan/v0"}', "plan: not a saved plan: kind must be 'vsr.plan/v1'"),
    ('{"kind": "vsr.plan/v1", "specPaths": ["s"]}', "plan: not a saved plan: missing or malformed field 'vcenters'"),
    ('{"kind": "vsr.plan/v1", "specPaths": [], "vcenters": []}', "plan: the saved plan names no spec path"),
    ('{"kind": "vsr.plan/v1", "specPaths": ["s"], "vcenters": [{"name": "v", "server": "s", "changes": '
     '[{"object": {"type": "HostSystem", "moid": "h"}, "controller": "c", "path": "p"}]}]}',
     "plan: vcenters[0].changes[0]: needs current and desired"),
])
def test_broken_saved_plans_give_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "plan"
    path.write_text(text)
    with pytest.raises(saved_plan.SavedPlanError) as err:
        saved_plan.load(path)
    assert str(err.value) == f"{tmp_path}/{message}"


def test_restrict_applies_only_unchanged_saved_changes(tmp_path: Path) -> None:
    plan = saved(tmp_path, change(H0, RUNNING, True, False), change(H0, POLICY, "on", "off"),
                 change(H1, ALLOWED, ["10.0.0.0/8"], ["192.0.2.0/24"], subject="ssh"),
                 change(H1, RUNNING, True, False))
    fresh = vcenter_plan(
        change(H0, RUNNING, True, False),                  # as planned
        change(H0, POLICY, "automatic", "off"),            # moved out of band
        change(H1, ALLOWED, ("10.0.0.0/8",), ["198.51.100.0/24"], subject="ssh"),  # the specs changed
        change(H1, POLICY, "on", "off"),                   # appeared after the plan
        change(H0, ("lockdown", "mode"), "disabled", "normal", reason=Skip.AUDIT),  # not actionable anyway
    )
    notes = saved_plan.restrict(fresh, plan.vcenters["vc1"])
    by = {(c.object.name, c.path): c for c in fresh.plan.changes}
    assert by[("esx-01", RUNNING)].reason is None
    assert by[("esx-01", POLICY)].reason is Skip.STALE
    assert by[("esx-01", POLICY)].message == ("stale: the live value is now automatic, the saved plan expected on; "
                                              "not applied")
    assert by[("esx-02", ALLOWED)].reason is Skip.STALE
    assert by[("esx-02", ALLOWED)].message == ('stale: the specs now want ["198.51.100.0/24"], the saved plan '
                                               'applies ["192.0.2.0/24"]; not applied')
    assert by[("esx-02", POLICY)].reason is Skip.NOT_IN_SAVED_PLAN
    assert by[("esx-01", ("lockdown", "mode"))].reason is Skip.AUDIT
    assert [c.object.name for po in fresh.objects for c in po.changes if c.actionable] == ["esx-01"]
    assert notes == ["stale: HostSystem esx-02 services.TSM-SSH.running: planned true -> false, but it no longer "
                     "differs; skipped"]


def test_spec_revision_digest_follows_the_documents(tmp_path: Path) -> None:
    head = "apiVersion: vsr.dev/v1alpha1\nkind: HostSecurityPolicy\nmetadata: {name: p}\nspec:\n"
    one = load_text(head + "  selector: {hosts: ['*']}\n  lockdown: {mode: normal}\n").documents
    same = load_text("# a comment\n" + head + "  selector: {hosts: ['*']}\n  lockdown: {mode: normal}\n").documents
    other = load_text(head + "  selector: {hosts: ['*']}\n  lockdown: {mode: strict}\n").documents
    digest = saved_plan.spec_revision([tmp_path], one)["digest"]
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert saved_plan.spec_revision([tmp_path], same)["digest"] == digest
    assert saved_plan.spec_revision([tmp_path], other)["digest"] != digest
    assert "git" not in saved_plan.spec_revision([tmp_path], one)  # not a git repository


def test_saved_plan_text_is_json(tmp_path: Path) -> None:
    saved(tmp_path, change(H0, RUNNING, True, False))
    assert json.loads((tmp_path / "plan").read_text())["kind"] == "vsr.plan/v1"
