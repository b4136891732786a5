"""Applying a plan: per object, per controller, the vSphere calls, then a read-back that decides whether each
change is `applied` or `notEffective`. Objects run concurrently (bounded); a fault on one never stops the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from reconciler.controllers import vm_common, vm_power
from reconciler.controllers.base import Controller, ObjectState
from reconciler.engine import guards, planner
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.types import Change, FieldDiff, Impact, ObjectProblem, Outcome, Skip
from reconciler.vsphere import faults, inventory

log = structlog.get_logger("vsr.apply")

RESTRICTED_MESSAGE = ("the host refuses API writes (RestrictedVersion: free ESXi license or API-restricted "
                      "version); reporting only")


def apply_plan(conn: Any, vplan: VCenterPlan, concurrency: int = 8,
               on_object_done: Callable[[PlannedObject], None] | None = None,
               today: dt.date | None = None) -> VCenterPlan:
    """Apply every actionable change of `vplan` and read back. Changes are updated in place and `vplan.plan`
    gets the problems of objects that faulted."""
    controllers = {c.name: c for c in planner.active_controllers_for(vplan.objects)}
    work = [po for po in vplan.objects if any(c.actionable for c in po.changes)]

    def run(po: PlannedObject) -> list[ObjectProblem]:
        try:
            return apply_object(conn, vplan, po, controllers, today or dt.date.today())
        finally:
            if on_object_done is not None:
                on_object_done(po)

    if concurrency <= 1 or len(work) <= 1:
        results = [run(po) for po in work]
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="vsr-apply") as pool:
            results = list(pool.map(run, work))
    for problems in results:
        vplan.plan.problems.extend(problems)
    vplan.collect_changes()
    return vplan


def needs_power_cycle(po: PlannedObject) -> bool:
    """A running VM whose policy allows power cycles and that has changes needing power-off."""
    if po.state.ref.type != "VirtualMachine" or not vm_common.powered_on(po.state):
        return False
    modes = {vm_common.power_mode(planner.plain(d)) for d in po.desired.values()}
    return "Allowed" in modes and any(c.actionable and c.impact is Impact.POWER_CYCLE for c in po.changes)


def apply_object(conn: Any, vplan: VCenterPlan, po: PlannedObject, controllers: dict[str, Controller],
                 today: dt.date) -> list[ObjectProblem]:
    guards.guard_object(po, vplan.facts, Outcome.SKIPPED)  # last step before writing: actionability may have changed
    if not needs_power_cycle(po):
        return _apply_object(conn, vplan, po, controllers, today)
    try:
        vm_power.shutdown_guest(conn, po.state.mo)
    except vm_power.PowerCycleError as exc:
        po.changes = [c.with_(outcome=Outcome.FAILED, error=str(exc))
                      if c.actionable and c.impact is Impact.POWER_CYCLE else c for c in po.changes]
        return [ObjectProblem(po.state.ref, str(exc))] + _apply_object(conn, vplan, po, controllers, today)
    log.info("guest shut down for changes that need power-off", object=po.state.ref.name)
    try:
        po.state.props = {**po.state.props, "runtime.powerState": "poweredOff"}
        return _apply_object(conn, vplan, po, controllers, today)
    finally:
        try:
            vm_power.power_on(conn, po.state.mo)
        except Exception as exc:  # noqa: BLE001
            log.error("could not power the VM on again", object=po.state.ref.name, error=str(exc))


def _apply_object(conn: Any, vplan: VCenterPlan, po: PlannedObject, controllers: dict[str, Controller],
                  today: dt.date) -> list[ObjectProblem]:
    problems: list[ObjectProblem] = []
    touched: list[Controller] = []
    for name, controller in controllers.items():
        pending = po.actionable(name)
        if not pending:
            continue
        diffs = [FieldDiff(c.path, c.current, c.desired, c.subject, c.impact) for c in pending]
        try:
            controller.apply(conn, po.state, diffs, planner.plain(po.desired[name]))
            touched.append(controller)
        except Exception as exc:  # noqa: BLE001 - a fault on one object/controller never stops the rest
            fault = faults.fault_name(exc)
            if fault == "RestrictedVersion":
                _mark(po, None, reason=Skip.UNSUPPORTED, message=RESTRICTED_MESSAGE, outcome=Outcome.SKIPPED)
                vplan.plan.notes.append(f"{po.state.ref.type} {po.state.ref.name}: audit only: {RESTRICTED_MESSAGE}")
                log.warning("host is read-only for the API; audit only", object=po.state.ref.name, fault=fault)
                return problems
            if fault in planner.UNSUPPORTED_FAULTS:
                _mark(po, name, reason=Skip.UNSUPPORTED, outcome=Outcome.SKIPPED,
                      message=f"this target does not offer the API for {name} ({fault})")
                touched.append(controller)  # read back anyway: part of the calls may have gone through
                continue
            message = f"{fault}: {faults.fault_message(exc)}"
            log.warning("apply failed", object=po.state.ref.name, controller=name, error=message)
            _mark(po, name, outcome=Outcome.FAILED, error=message)
            problems.append(ObjectProblem(po.state.ref, message, name))
            touched.append(controller)
    if touched:
        problems.extend(read_back(conn, vplan, po, touched, today))
    return problems


def _mark(po: PlannedObject, controller: str | None, **fields: Any) -> None:
    po.changes = [c.with_(**fields) if c.actionable and (controller is None or c.controller == controller) else c
                  for c in po.changes]


def read_back(conn: Any, vplan: VCenterPlan, po: PlannedObject, touched: list[Controller],
              today: dt.date) -> list[ObjectProblem]:
    """Fetch the touched controllers' properties of this object again, re-diff, and settle each change."""
    paths = sorted({p for c in touched for p in c.properties} | set(planner.BASE_PROPERTIES[po.state.ref.type]))
    try:
        fresh = inventory.fetch_objects(conn, [po.state.mo], paths)[po.state.ref.moid]
        state = ObjectState(po.state.ref, {**po.state.props, **fresh}, mo=po.state.mo, facts=po.state.facts)
        for controller in touched:
            controller.prefetch(conn, [state], {state.ref.moid: planner.plain(po.desired[controller.name])})
    except Exception as exc:  # noqa: BLE001
        message = f"read-back failed: {faults.fault_name(exc)}: {faults.fault_message(exc)}"
        return [ObjectProblem(po.state.ref, message)]
    remaining = {(d.path, d.subject): d for c in touched
                 for d in c.diff(planner.plain(po.desired[c.name]), state)}
    settled: list[Change] = []
    for change in po.changes:
        if change.controller in {c.name for c in touched} and change.actionable and change.outcome is Outcome.PLANNED:
            left = remaining.get((change.path, change.subject))
            if left is None:
                change = change.with_(outcome=Outcome.APPLIED)
            else:
                change = change.with_(outcome=Outcome.NOT_EFFECTIVE, current=left.current,
                                      message="applied but not effective: the read-back still differs")
        settled.append(change)
    po.changes = settled
    po.state = state
    return []
