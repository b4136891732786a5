"""Applying a plan: per object, per controller, the vSphere calls, then a read-back that decides each field's
outcome. Objects run concurrently (bounded); a fault on one never stops the others.

Write-ahead: before each controller's vSphere call the changes' intents are recorded through the `WriteJournal`;
if that fails, nothing more is written for the object. The outcomes are recorded after the read-back.

Outcomes are per field: after a call that raised, the read-back still decides each field (`applied` if it now
matches, else `failed` with the error); after a call that returned, `applied` or `notEffective`. When the read-back
itself fails, every attempted field is `unknown` and the next pass verifies it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import FieldDiff, Impact, ObjectState, Skip, power_mode, powered_on
from reconciler.engine import gcpause, guards, planner, rolling, sources
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.types import Change, ObjectProblem, Outcome
from reconciler.engine.writeahead import NoJournal, WriteJournal
from reconciler.vsphere import faults, inventory, power, tasks
from reconciler.vsphere.protocol import Connection

log = structlog.get_logger("vsr.apply")

RESTRICTED_MESSAGE = ("the host refuses API writes (RestrictedVersion: free ESXi license or API-restricted "
                      "version); reporting only")
NOT_WRITTEN = "not written: the journal cannot record the intent"


#: objects whose writes are read back together (one bulk fetch per managed type and batch)
READ_BACK_BATCH = 256


@dataclass
class _Written:
    """One object after its writes, waiting for the batch's read-back."""

    po: PlannedObject
    problems: list[ObjectProblem]
    touched: list[Controller]


def apply_plan(conn: Connection, vplan: VCenterPlan, concurrency: int = 8,
               on_object_done: Callable[[PlannedObject], None] | None = None,
               today: dt.date | None = None, journal: WriteJournal | None = None,
               rolling_windows: bool = False) -> VCenterPlan:
    """Apply every actionable change of `vplan` and read back. Changes are updated in place and `vplan.plan`
    gets the problems of objects that faulted. `journal` records intents and outcomes (write-ahead).

    In batches of `READ_BACK_BATCH` objects: the objects' writes run concurrently (at most `concurrency` at once),
    then every written object of the batch is read back in one bulk fetch per managed type. A VM that is power
    cycled is applied and read back on its own, while it is off (`apply_object`)."""
    controllers = {c.name: c for c in planner.active_controllers_for(vplan.objects)}
    windowed = rolling.candidates(vplan) if rolling_windows else []
    in_window = {id(po) for po in windowed}
    work = [po for po in vplan.objects if any(c.actionable for c in po.changes) and id(po) not in in_window]
    recorder: WriteJournal = journal if journal is not None else NoJournal()
    day = today or dt.date.today()

    def finish(po: PlannedObject, problems: list[ObjectProblem]) -> list[ObjectProblem]:
        try:
            return problems + _record_outcome(recorder, po)
        finally:
            if on_object_done is not None:
                on_object_done(po)

    def write(po: PlannedObject) -> _Written | list[ObjectProblem]:
        try:
            guards.guard_object(po, vplan.facts, Outcome.SKIPPED)  # last step before writing
            cycled = needs_power_cycle(po)
            if cycled:  # written and read back on its own, while the VM is off
                problems = _apply_with_power(conn, vplan, po, controllers, day, recorder)
            else:
                problems, touched = _write_object(conn, vplan, po, controllers, recorder)
        except BaseException:
            if on_object_done is not None:
                on_object_done(po)
            raise
        return finish(po, problems) if cycled else _Written(po, problems, touched)

    results: list[list[ObjectProblem]] = []
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="vsr-apply") \
        if concurrency > 1 and len(work) > 1 else None
    with tasks.shared_waiter(conn), contextlib.ExitStack() as stack:
        if pool is not None:
            stack.callback(pool.shutdown, wait=True)
        for start in range(0, len(work), READ_BACK_BATCH):
            batch = work[start:start + READ_BACK_BATCH]
            written = list(pool.map(write, batch)) if pool is not None else [write(po) for po in batch]
            pending = [w for w in written if isinstance(w, _Written)]
            read = read_back_many(conn, vplan, [(w.po, w.touched) for w in pending if w.touched], day)
            for w in written:
                if not isinstance(w, _Written):
                    results.append(w)
                    continue
                problems = w.problems
                if w.touched:
                    problems = [p for p in problems + read.get(w.po.state.ref.moid, [])
                                if not _all_applied(w.po, p.controller)]
                results.append(finish(w.po, problems))
        if windowed:
            results.append(rolling.run(conn, vplan, windowed, _window(conn, vplan, controllers, recorder, day, finish)))
    for problems in results:
        vplan.plan.problems.extend(problems)
    vplan.collect_changes()
    return vplan


def _window(conn: Connection, vplan: VCenterPlan, controllers: dict[str, Controller], journal: WriteJournal,
            day: dt.date, finish: Callable[[PlannedObject, list[ObjectProblem]], list[ObjectProblem]]) -> rolling.Window:
    """The executor's steps for a rolling maintenance window (`engine.rolling`)."""
    def write(po: PlannedObject) -> tuple[list[ObjectProblem], list[Controller]]:
        return _write_object(conn, vplan, po, controllers, journal)

    return rolling.Window(guard=lambda po: guards.guard_object(po, vplan.facts, Outcome.SKIPPED), write=write, read_back=lambda po, touched: read_back(conn, vplan, po, touched, day),
                          intent=lambda po, changes: _intent(journal, po, changes), record=journal.record,
                          finish=finish, unwritten=_mark_unwritten,
                          controllers_of=lambda names: [c for n, c in controllers.items() if n in names],
                          remaining=lambda po, names: {(d.path, d.subject) for n in names if n in controllers
                                                       for d in controllers[n].diff(planner.plain(po.desired[n]),
                                                                                    po.state)})


def _record_outcome(journal: WriteJournal, po: PlannedObject) -> list[ObjectProblem]:
    try:
        journal.outcome(po.changes)
    except Exception as exc:  # noqa: BLE001 - the intents stay open; the next pass verifies them
        log.error("cannot record the outcome", object=po.state.ref.name, error=str(exc))
        return [ObjectProblem(po.state.ref, f"journal: {exc}; the outcome is verified on the next pass", "journal")]
    return []


def needs_power_cycle(po: PlannedObject) -> bool:
    """A running VM whose policy allows power cycles and that has changes needing power-off."""
    if po.state.ref.type != "VirtualMachine" or not powered_on(po.state):
        return False
    modes = {power_mode(planner.plain(d)) for d in po.desired.values()}
    return "Allowed" in modes and any(c.actionable and c.impact is Impact.POWER_CYCLE for c in po.changes)


def apply_object(conn: Connection, vplan: VCenterPlan, po: PlannedObject, controllers: dict[str, Controller],
                 today: dt.date, journal: WriteJournal | None = None) -> list[ObjectProblem]:
    """Apply one object's changes (shutting a VM down first when its changes need power-off), then record the
    outcomes."""
    guards.guard_object(po, vplan.facts, Outcome.SKIPPED)  # last step before writing: actionability may have changed
    journal = journal if journal is not None else NoJournal()
    problems = _apply_with_power(conn, vplan, po, controllers, today, journal)
    return problems + _record_outcome(journal, po)


def _apply_with_power(conn: Connection, vplan: VCenterPlan, po: PlannedObject, controllers: dict[str, Controller],
                      today: dt.date, journal: WriteJournal) -> list[ObjectProblem]:
    if not needs_power_cycle(po):
        return _apply_object(conn, vplan, po, controllers, today, journal)
    cycled = [c for c in po.changes if c.actionable and c.impact is Impact.POWER_CYCLE]
    problem = _intent(journal, po, cycled)  # the shutdown is a write too
    if problem is not None:
        _mark_unwritten(po)
        return [problem]
    try:
        power.shutdown_guest(conn, po.state.mo)
    except power.PowerCycleError as exc:
        po.changes = [c.with_(outcome=Outcome.FAILED, error=str(exc))
                      if c.actionable and c.impact is Impact.POWER_CYCLE else c for c in po.changes]
        return [ObjectProblem(po.state.ref, str(exc))] + _apply_object(conn, vplan, po, controllers, today,
                                                                       journal)
    log.info("guest shut down for changes that need power-off", object=po.state.ref.name)
    try:
        po.state.props = {**po.state.props, "runtime.powerState": "poweredOff"}
        return _apply_object(conn, vplan, po, controllers, today, journal)
    finally:
        try:
            power.power_on(conn, po.state.mo)
        except Exception as exc:  # noqa: BLE001
            log.error("could not power the VM on again", object=po.state.ref.name, error=str(exc))


def _apply_object(conn: Connection, vplan: VCenterPlan, po: PlannedObject, controllers: dict[str, Controller],
                  today: dt.date, journal: WriteJournal | None = None) -> list[ObjectProblem]:
    """Write one object's changes and read it back on its own."""
    problems, touched = _write_object(conn, vplan, po, controllers, journal if journal is not None else NoJournal())
    if touched:
        problems.extend(read_back(conn, vplan, po, touched, today))
        problems = [p for p in problems if not _all_applied(po, p.controller)]
    return problems


def _write_object(conn: Connection, vplan: VCenterPlan, po: PlannedObject, controllers: dict[str, Controller],
                  journal: WriteJournal) -> tuple[list[ObjectProblem], list[Controller]]:
    """One object's writes, controller by controller (intent recorded before each). Returns the problems and the
    controllers whose fields need a read-back (none when the host turned out to be read-only)."""
    problems: list[ObjectProblem] = []
    touched: list[Controller] = []
    for name, controller in controllers.items():
        pending = po.actionable(name)
        if not pending:
            continue
        problem = _intent(journal, po, pending)
        if problem is not None:  # no record, no write: nothing more for this object
            _mark_unwritten(po, exclude={c.name for c in touched})
            problems.append(problem)
            break
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
                return problems, []
            if fault in planner.UNSUPPORTED_FAULTS:
                _mark(po, name, reason=Skip.UNSUPPORTED, outcome=Outcome.SKIPPED,
                      message=f"this target does not offer the API for {name} ({fault})")
                touched.append(controller)  # read back anyway: part of the calls may have gone through
                continue
            message = f"{fault}: {faults.fault_message(exc)}"
            log.warning("apply failed", object=po.state.ref.name, controller=name, error=message)
            _mark(po, name, outcome=Outcome.FAILED, error=message)  # the read-back decides per field
            problems.append(ObjectProblem(po.state.ref, message, name))
            touched.append(controller)
    return problems, touched


def _all_applied(po: PlannedObject, controller: str) -> bool:
    """A controller whose call raised but whose every field now reads back as desired has converged."""
    mine = [c for c in po.changes if controller and c.controller == controller and c.actionable]
    return bool(mine) and all(c.outcome is Outcome.APPLIED for c in mine)


def _intent(journal: WriteJournal, po: PlannedObject, changes: list[Change]) -> ObjectProblem | None:
    """Record the intents of `changes`; on failure, the problem to report (the caller writes nothing more)."""
    try:
        journal.intent(changes)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure to record means: do not write
        log.error("journal cannot record the intent; nothing written", object=po.state.ref.name, error=str(exc))
        return ObjectProblem(po.state.ref, f"journal: {exc}; nothing written to vSphere for this object", "journal")


def _mark_unwritten(po: PlannedObject, exclude: frozenset[str] | set[str] = frozenset()) -> None:
    """Changes never attempted (the journal failed first) say so instead of staying `planned`."""
    po.changes = [c.with_(outcome=Outcome.SKIPPED, message=NOT_WRITTEN)
                  if c.actionable and c.outcome is Outcome.PLANNED and c.controller not in exclude else c
                  for c in po.changes]


def _mark(po: PlannedObject, controller: str | None, **fields: Any) -> None:
    po.changes = [c.with_(**fields) if c.actionable and (controller is None or c.controller == controller) else c
                  for c in po.changes]


def read_back(conn: Connection, vplan: VCenterPlan, po: PlannedObject, touched: list[Controller],
              today: dt.date) -> list[ObjectProblem]:
    """Fetch the touched controllers' properties of this object again, re-diff, and settle each change."""
    return read_back_many(conn, vplan, [(po, touched)], today).get(po.state.ref.moid, [])


def read_back_many(conn: Connection, vplan: VCenterPlan, written: list[tuple[PlannedObject, list[Controller]]],
                   today: dt.date) -> dict[str, list[ObjectProblem]]:
    """Read back many written objects at once: their touched controllers' properties in one bulk fetch per managed
    type, their related objects and polled sources as `sources.read` does for a plan, then re-diff and settle each
    change per object. An object whose read-back fails has every attempted field `unknown`; the others are settled.
    Returns the problems by moid."""
    with gcpause.paused():
        return _read_back_many(conn, vplan, written)


def _read_back_many(conn: Connection, vplan: VCenterPlan,
                    written: list[tuple[PlannedObject, list[Controller]]]) -> dict[str, list[ObjectProblem]]:
    states: dict[str, ObjectState] = {}
    failed: dict[str, BaseException] = {}
    by_type: dict[str, list[tuple[PlannedObject, list[Controller]]]] = {}
    for po, touched in written:
        by_type.setdefault(po.state.ref.type, []).append((po, touched))
    for type_name, group in by_type.items():
        paths = sorted({p for _, touched in group for c in touched for p in c.object_paths()}
                       | set(sources.BASE_PROPERTIES[type_name]))
        try:
            fetched = inventory.fetch_objects(conn, [po.state.mo for po, _ in group], paths)
        except Exception as exc:  # noqa: BLE001 - every object of this fetch is unknown; the next pass verifies
            failed.update((po.state.ref.moid, exc) for po, _ in group)
            continue
        for po, _ in group:
            fresh: dict[str, Any] = fetched.get(po.state.ref.moid, {})
            states[po.state.ref.moid] = ObjectState(po.state.ref, {**po.state.props, **fresh}, mo=po.state.mo,
                                                    placement=po.state.placement, template=po.state.template)
    targets = [(c, states[po.state.ref.moid]) for po, touched in written if po.state.ref.moid in states
               for c in touched]
    try:
        wanted = {po.state.ref.moid: {c.name: planner.plain(po.desired[c.name]) for c in touched}
                  for po, touched in written}
        faults_by = sources.read(conn, targets, vplan.cache, fresh=True, desired=wanted)  # vsr just wrote: re-read polled too
    except Exception as exc:  # noqa: BLE001
        faults_by = {(state.ref.moid, c.name): exc for c, state in targets}
    for (moid, _), fault in faults_by.items():
        failed.setdefault(moid, fault)
    ok = [(c, state) for c, state in targets if state.ref.moid not in failed]
    sources.observe(ok, {})
    _prefetch(conn, written, states, failed)
    problems: dict[str, list[ObjectProblem]] = {}
    for po, touched in written:
        moid = po.state.ref.moid
        if moid in failed:
            problems[moid] = [_read_back_failed(po, touched, failed[moid])]
        else:
            _settle(po, touched, states[moid])
    return problems


def _prefetch(conn: Connection, written: list[tuple[PlannedObject, list[Controller]]],
              states: dict[str, ObjectState], failed: dict[str, BaseException]) -> None:
    """Controllers' own reads (key providers), once per controller for all its read-back objects."""
    users: dict[str, tuple[Controller, list[PlannedObject]]] = {}
    for po, touched in written:
        for c in touched:
            if type(c).prefetch is not Controller.prefetch and po.state.ref.moid not in failed:
                users.setdefault(c.name, (c, []))[1].append(po)
    for controller, pos in users.values():
        try:
            controller.prefetch(conn, [states[po.state.ref.moid] for po in pos],
                                {po.state.ref.moid: planner.plain(po.desired[controller.name]) for po in pos})
        except Exception as exc:  # noqa: BLE001
            failed.update((po.state.ref.moid, exc) for po in pos)


def _read_back_failed(po: PlannedObject, touched: list[Controller], exc: BaseException) -> ObjectProblem:
    message = f"read-back failed: {faults.fault_name(exc)}: {faults.fault_message(exc)}"
    names = {c.name for c in touched}
    po.changes = [c.with_(outcome=Outcome.UNKNOWN,
                          error=f"{c.error}; {message}" if c.error else f"{message}; verified on the next pass")
                  if c.controller in names and c.actionable and c.outcome in (Outcome.PLANNED, Outcome.FAILED)
                  else c for c in po.changes]
    return ObjectProblem(po.state.ref, message)


def _settle(po: PlannedObject, touched: list[Controller], state: ObjectState) -> None:
    """Each attempted change of `po` after a good read-back: applied, notEffective, or failed with the value now."""
    remaining = {(d.path, d.subject): d for c in touched
                 for d in c.diff(planner.plain(po.desired[c.name]), state)}
    names = {c.name for c in touched}
    settled: list[Change] = []
    for change in po.changes:
        if change.controller in names and change.actionable and change.outcome in (Outcome.PLANNED, Outcome.FAILED):
            left = remaining.get((change.path, change.subject))
            if left is None:  # the field matches now, even if its call (or a sibling's) raised
                change = change.with_(outcome=Outcome.APPLIED, error="")
            elif left.skip is Skip.PENDING_REBOOT:  # written; the host applies it at its next reboot
                change = change.with_(outcome=Outcome.APPLIED, error="", message=left.message)
            elif change.outcome is Outcome.FAILED:
                change = change.with_(current=left.current)
            else:
                change = change.with_(outcome=Outcome.NOT_EFFECTIVE, current=left.current,
                                      message="applied but not effective: the read-back still differs")
        settled.append(change)
    po.changes = settled
    po.state = state
