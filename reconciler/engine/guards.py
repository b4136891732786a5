"""The lock-out guard pass: refuse changes that would cut vsr's (or vCenter's) access to an object.

Guards judge the *effective* end state of an object, never the spec: for each field path, the desired value only
when the change to it will really be applied (actionable: no skip reason such as waived, audit, flapping,
conflict, unsupported, guarded or stale, or dropped from the plan), otherwise the observed value. A path with no
desired value, or whose change is held back, is simply absent from the mapping a guard receives, and the guard
falls back to what it observed on the object. Refusing one change can make another unsafe (refusing an
exception-user change leaves the host's old list, against which the lockdown mode change must be judged again),
so the pass repeats until no new refusal appears. Each round judges every remaining change against the same end
state, so the result does not depend on the order of changes; a refusal is never taken back within a pass.

The planner runs the pass after labelling; the executor runs it again as the first step of applying an object,
because steps in between (the daemon's flap detector, a saved plan's stale marks, a --target filter) change what
will be applied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reconciler import controllers as registry
from reconciler.controllers.base import Controller
from reconciler.controllers.contract import ConnectionFacts, FieldDiff, FieldPath, ObjectState, Skip
from reconciler.engine.types import Change, DesiredValue, Outcome

if TYPE_CHECKING:  # the planner imports this module
    from reconciler.engine.planner import PlannedObject, VCenterPlan


def effective_values(desired: Mapping[FieldPath, DesiredValue], changes: Iterable[Change],
                     differing: Iterable[tuple[FieldPath, str]] = ()) -> dict[FieldPath, Any]:
    """The desired values that will be in effect after apply: every desired path except those held back. A
    path is held back when one of its changes is not actionable, or when it differs on the object (`differing`:
    (path, subject) pairs from the controller's diff) without an actionable change, e.g. because a filter
    dropped the change from the plan. A path that neither differs nor has a change is already in effect."""
    changes = list(changes)
    actionable = {(c.path, c.subject) for c in changes if c.actionable}
    held = {c.path for c in changes if not c.actionable}
    held |= {path for path, subject in differing if (path, subject) not in actionable}
    return {path: d.value for path, d in desired.items() if path not in held}


def _differing(controller: Controller, desired: Mapping[FieldPath, DesiredValue],
               state: ObjectState) -> set[tuple[FieldPath, str]]:
    """What the controller's (pure) diff says differs now; nothing when it cannot tell (unreadable state: the
    plan's changes then say everything there is to know)."""
    try:
        return {(d.path, d.subject) for d in controller.diff({p: v.value for p, v in desired.items()}, state)}
    except Exception:  # noqa: BLE001
        return set()


def _judge(controller: Controller, change: Change, values: Mapping[FieldPath, Any], po: PlannedObject,
           facts: ConnectionFacts) -> str | None:
    diff = FieldDiff(change.path, change.current, change.desired, change.subject, change.impact)
    try:
        return controller.guard(diff, values, po.state, facts)
    except Exception as exc:  # noqa: BLE001 - a guard that cannot decide refuses
        return f"refusing: the lock-out guard of {controller.name} could not judge this change ({exc})"


def guard_object(po: PlannedObject, facts: ConnectionFacts, outcome: Outcome = Outcome.PLANNED) -> list[Change]:
    """Mark (reason `guard`) every actionable change of the planned object `po` that its controller's guard
    refuses against the effective end state, to a fixpoint. `outcome` is given to refused changes (the executor
    passes `skipped`, so that a refusal found at apply time is recorded). Returns the newly refused changes."""
    by_name = {c.name: c for c in registry.ALL}
    refused: list[Change] = []
    while True:
        refusals: dict[int, str] = {}
        for name, desired in po.desired.items():
            controller = by_name.get(name)
            if controller is None or type(controller).guard is Controller.guard:
                continue  # no guard: nothing to judge (most controllers; keeps large VM plans cheap)
            values = effective_values(desired, (c for c in po.changes if c.controller == name),
                                      _differing(controller, desired, po.state))
            for i, change in enumerate(po.changes):
                if change.controller == name and change.actionable:
                    refusal = _judge(controller, change, values, po, facts)
                    if refusal:
                        refusals[i] = refusal
        if not refusals:
            return refused
        changes = list(po.changes)
        for i, message in refusals.items():
            changes[i] = changes[i].with_(reason=Skip.GUARD, message=message, outcome=outcome)
            refused.append(changes[i])
        po.changes = changes


def guard_plan(vplan: VCenterPlan) -> None:
    """The guard pass over every object of a plan, then the plan's change list refreshed."""
    for po in vplan.objects:
        guard_object(po, vplan.facts)
    vplan.collect_changes()
