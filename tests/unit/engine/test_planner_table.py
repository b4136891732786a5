"""Table-driven tests of the planner on pre-fetched objects (`plan_objects`): no vSphere, no simulator.

The objects are VMs whose properties are already known (what a bulk snapshot or the daemon's cache hands over);
the VM advanced-settings controller declares only properties, so nothing else is read."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from pyVmomi import vim

from reconciler.api import load_text
from reconciler.controllers.contract import ConnectionFacts
from reconciler.engine import planner
from reconciler.engine.policies import compile_documents
from reconciler.vsphere.inventory import EntityPath, ObservedObject

TODAY = dt.date(2027, 1, 15)
FACTS = ConnectionFacts("lab", True, "svc-vsr", "10.0.0.2")
KEY = "isolation.tools.copy.disable"
PATH = ("advancedSettings", KEY)
NO_CONNECTION = None  # the VM advanced-settings controller declares properties only: nothing else is read


def policy(name: str, value: str = "TRUE", *, vms: str = "*", priority: int = 0, enforcement: str = "Enforce",
           suspend: bool = False, key: str = KEY) -> str:
    return textwrap.dedent(f"""\
        apiVersion: vsr.dev/v1alpha1
        kind: VMSecurityPolicy
        metadata: {{name: {name}}}
        spec:
          selector: {{vms: ["{vms}"]}}
          enforcement: {enforcement}
          priority: {priority}
          suspend: {str(suspend).lower()}
          advancedSettings: {{{key}: "{value}"}}
        """)


def waiver(name: str, vms: str, fields: str = f"advancedSettings.{KEY}", expires: str = "2027-03-31") -> str:
    return textwrap.dedent(f"""\
        apiVersion: vsr.dev/v1alpha1
        kind: Waiver
        metadata: {{name: {name}}}
        spec:
          selector: {{vms: ["{vms}"]}}
          fields: ["{fields}"]
          reason: "vendor appliance, ticket OPS-7"
          owner: ops@example.com
          expires: {expires}
        """)


def vm(name: str, value: str | None) -> ObservedObject:
    extra = [vim.option.OptionValue(key=KEY, value=value)] if value is not None else []
    return ObservedObject("VirtualMachine", f"vm-{name}", name,
                          {"config.extraConfig": extra, "runtime.powerState": "poweredOff", "runtime.bootTime": None,
                           "config.template": False})


def entity(name: str) -> EntityPath:
    return EntityPath(f"vm-{name}", "VirtualMachine", name, "group-v1", f"/DC0/vm/{name}", datacenter="DC0",
                      cluster="C0", host="esx-01", folders=("vm",), template=False)


def plan(docs: list[str], vms: dict[str, str | None]) -> planner.VCenterPlan:
    loaded = load_text("---\n".join(docs), "specs.yaml", today=TODAY)
    assert not loaded.errors, [str(e) for e in loaded.errors]
    specs = compile_documents(loaded.documents, TODAY)
    objects = {f"vm-{n}": vm(n, v) for n, v in vms.items()}
    entities = {f"vm-{n}": entity(n) for n in vms}
    return planner.plan_objects(NO_CONNECTION, FACTS, specs.policies, specs.waivers, objects, entities, TODAY)


def summary(vplan: planner.VCenterPlan) -> list[tuple[str, str | None, str, str | None]]:
    """(object, reason, policy, desired) per change, in plan order."""
    return [(c.object.name, c.reason.value if c.reason else None, c.policy, c.desired) for c in vplan.plan.changes]


@pytest.mark.parametrize("docs,vms,expected", [
    pytest.param([policy("base")], {"web": "FALSE"}, [("web", None, "base", "TRUE")], id="drift-enforced"),
    pytest.param([policy("base")], {"web": "TRUE"}, [], id="in-sync-no-change"),
    pytest.param([policy("base")], {"web": None}, [("web", None, "base", "TRUE")], id="unset-is-drift"),
    pytest.param([policy("base", enforcement="Audit")], {"web": "FALSE"}, [("web", "audit", "base", "TRUE")],
                 id="audit"),
    pytest.param([policy("base"), waiver("w", "web")], {"web": "FALSE", "db": "FALSE"},
                 [("db", None, "base", "TRUE"), ("web", "waived", "base", "TRUE")], id="waiver-on-one-object"),
    pytest.param([policy("base", enforcement="Audit"), waiver("w", "web")], {"web": "FALSE"},
                 [("web", "waived", "base", "TRUE")], id="waiver-before-audit"),
    pytest.param([policy("base"), waiver("w", "web", expires="2027-01-14")], {"web": "FALSE"},
                 [("web", None, "base", "TRUE")], id="expired-waiver-enforces"),
    pytest.param([policy("base"), waiver("w", "web", fields="advancedSettings.other.key")], {"web": "FALSE"},
                 [("web", None, "base", "TRUE")], id="waiver-of-another-field"),
])
def test_labels(docs, vms, expected):
    assert summary(plan(docs, vms)) == expected


@pytest.mark.parametrize("docs,vms,expected", [
    pytest.param([policy("low", "TRUE"), policy("high", "FALSE", priority=10)], {"web": None},
                 [("web", None, "high", "FALSE")], id="higher-priority-wins"),
    pytest.param([policy("high", "FALSE", priority=10), policy("low", "TRUE")], {"web": None},
                 [("web", None, "high", "FALSE")], id="order-does-not-matter"),
    pytest.param([policy("a", "TRUE"), policy("b", "TRUE")], {"web": None},
                 [("web", None, "a", "TRUE")], id="equal-priority-agreeing"),
    pytest.param([policy("a", "TRUE"), policy("b", "FALSE", vms="web")], {"web": "TRUE"},
                 [("web", "conflict", "a, b", None)], id="equal-priority-conflict-even-in-sync"),
    pytest.param([policy("a", "TRUE"), policy("b", "FALSE", vms="db")], {"web": None, "db": None},
                 [("db", "conflict", "a, b", None), ("web", None, "a", "TRUE")], id="conflict-per-object"),
])
def test_priorities_and_conflicts(docs, vms, expected):
    assert summary(plan(docs, vms)) == expected


def test_conflict_names_both_sources_and_leaves_the_field_unmanaged():
    # identical selectors are refused at load time; overlapping ones conflict per object, at plan time
    vplan = plan([policy("a", "TRUE"), policy("b", "FALSE", vms="web")], {"web": "FALSE"})
    (conflict,) = vplan.plan.changes
    assert conflict.path == PATH and conflict.source == "specs.yaml:9"  # the first policy's field
    assert "a (specs.yaml:" in conflict.message and "b (specs.yaml:" in conflict.message
    assert vplan.plan.drift == [conflict] and vplan.plan.exit_code() == 2


@pytest.mark.parametrize("docs,expected,notes", [
    pytest.param([policy("live", "TRUE"), policy("paused", "FALSE", suspend=True)],
                 [("web", None, "live", "TRUE")], ["policy paused is suspended"], id="suspended-beside-active"),
    pytest.param([policy("paused", "FALSE", suspend=True, priority=10), policy("live", "TRUE")],
                 [("web", None, "live", "TRUE")], ["policy paused is suspended"], id="suspended-higher-priority"),
    pytest.param([policy("paused", suspend=True)], [], ["policy paused is suspended"], id="only-suspended"),
])
def test_suspended_policy_on_the_same_controller(docs, expected, notes):
    vplan = plan(docs, {"web": None})
    assert summary(vplan) == expected
    assert vplan.plan.notes == notes


def test_unmatched_objects_are_not_planned_and_listed_as_unmanaged():
    docs = [policy("web-only", vms="web-*")]
    vplan = plan(docs, {"web-1": "FALSE", "db-1": "FALSE"})
    assert summary(vplan) == [("web-1", None, "web-only", "TRUE")]
    assert vplan.plan.objects_checked == 1 and [po.state.ref.name for po in vplan.objects] == ["web-1"]
    specs = compile_documents(load_text(docs[0], "specs.yaml", today=TODAY).documents, TODAY)
    entities = {f"vm-{n}": entity(n) for n in ("web-1", "db-1")}
    assert [r.name for r in planner.unmanaged(entities, specs.policies, "lab")] == ["db-1"]


def test_planned_state_carries_placement_template_and_remediation_times():
    loaded = load_text(policy("base"), "specs.yaml", today=TODAY)
    specs = compile_documents(loaded.documents, TODAY)
    at = dt.datetime(2027, 1, 14, 12, 0, tzinfo=dt.timezone.utc)
    vplan = planner.plan_objects(NO_CONNECTION, FACTS, specs.policies, specs.waivers, {"vm-web": vm("web", "FALSE")},
                                 {"vm-web": entity("web")}, TODAY, remediated={("vm-web", PATH): at})
    (po,) = vplan.objects
    assert po.state.placement.datacenter == "DC0" and po.state.placement.cluster == "C0"
    assert po.state.template is False and po.state.remediated_at == {PATH: at} and po.state.faults == {}
