"""Rolling maintenance (`vsr apply` only): hosts whose changes take effect at a reboot, when their policy has
`remediation: {maintenanceMode: Allowed, reboot: Allowed}`, are remediated one rolling window per cluster, at most
`maxHostsInParallel` hosts of a cluster at once:

    pre-check (can the host be evacuated) -> enter maintenance mode -> apply -> reboot -> wait for reconnect
    -> verify (read back) -> exit maintenance mode

Entering maintenance mode and rebooting are writes: the changes' intents are recorded before each. Every step is
an event. A failure stops the cluster's window: the host stays in maintenance mode (with a Warning event), the
cluster's remaining hosts are not touched (their changes are skipped with the reason). The daemon does not run
windows: it writes such changes only as far as `remediation.reboot` allows and reports them `pendingReboot`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog

from reconciler.controllers.base import Controller
from reconciler.controllers.contract import REMEDIATION, Impact, Skip
from reconciler.engine import planner
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.types import Change, ObjectProblem, Outcome, render_path
from reconciler.events import model as ev
from reconciler.vsphere import faults, maintenance
from reconciler.vsphere.protocol import Connection

log = structlog.get_logger("vsr.rolling")

WINDOW = "rolling maintenance"


def _remediation(po: PlannedObject) -> list[Mapping[str, Any]]:
    out = []
    for desired in po.desired.values():
        r = planner.plain(desired).get(REMEDIATION)
        if isinstance(r, Mapping):
            out.append(r)
    return out


def allowed(po: PlannedObject) -> bool:
    """The host's policy allows both maintenance mode and reboots."""
    rs = _remediation(po)
    return bool(rs) and all(r.get("maintenanceMode") == "Allowed" and r.get("reboot") == "Allowed" for r in rs)


def parallel(po: PlannedObject) -> int:
    return min((int(r.get("maxHostsInParallel") or 1) for r in _remediation(po)), default=1)


def window_changes(po: PlannedObject) -> list[Change]:
    return [c for c in po.changes if c.actionable and c.impact in (Impact.REBOOT,)]


def pending_changes(po: PlannedObject) -> list[Change]:
    """Changes written earlier that wait for the host's reboot (`pendingReboot`)."""
    return [c for c in po.changes if c.reason is Skip.PENDING_REBOOT and c.outcome is Outcome.PLANNED]


def candidates(vplan: VCenterPlan) -> list[PlannedObject]:
    """Hosts that go through a rolling window: allowed by their policy, with actionable reboot-impact changes or
    changes written earlier that wait for a reboot."""
    return [po for po in vplan.objects if po.state.ref.type == "HostSystem" and allowed(po)
            and (window_changes(po) or pending_changes(po))]


def annotate(conn: Connection, vplan: VCenterPlan) -> dict[str, maintenance.PreCheck]:
    """The pre-check of every candidate host, as plan notes (one bulk read; nothing when there is no candidate)."""
    hosts = candidates(vplan)
    if not hosts:
        return {}
    try:
        facts = maintenance.host_facts(conn)
    except Exception as exc:  # noqa: BLE001 - the plan still shows the changes; the window re-checks
        vplan.plan.notes.append(f"{WINDOW}: pre-check could not read the inventory: {faults.describe(exc)}")
        return {}
    out = {}
    for po in hosts:
        pc = maintenance.precheck(po.state.ref.moid, facts)
        out[po.state.ref.moid] = pc
        cluster = po.state.placement.cluster if po.state.placement else None
        where = f" (cluster {cluster})" if cluster else " (standalone)"
        verdict = "pre-check ok" if pc.ok else "pre-check refuses"
        vplan.plan.notes.append(f"{WINDOW}: HostSystem {po.state.ref.name}{where}: {verdict}: {pc.reason}; "
                                f"maxHostsInParallel {parallel(po)}")
    return out


@dataclass
class Window:
    """What `run` needs from the executor: its guard, write and read-back steps and the journal."""

    guard: Callable[[PlannedObject], object]
    write: Callable[[PlannedObject], tuple[list[ObjectProblem], list[Controller]]]
    read_back: Callable[[PlannedObject, list[Controller]], list[ObjectProblem]]
    intent: Callable[[PlannedObject, list[Change]], ObjectProblem | None]
    record: Callable[[list[ev.Event]], None]
    finish: Callable[[PlannedObject, list[ObjectProblem]], list[ObjectProblem]]
    unwritten: Callable[[PlannedObject], None]
    #: the controllers of these names, and the (path, subject) they still find different on the host's state
    controllers_of: Callable[[set[str]], list[Controller]]
    remaining: Callable[[PlannedObject, set[str]], set[tuple[Any, str]]]


def run(conn: Connection, vplan: VCenterPlan, hosts: list[PlannedObject], w: Window) -> list[ObjectProblem]:
    """One window per cluster (clusters one after the other; standalone hosts each their own)."""
    groups: dict[str, list[PlannedObject]] = {}
    for po in hosts:
        cluster = po.state.placement.cluster if po.state.placement and po.state.placement.cluster else None
        groups.setdefault(cluster or f"standalone:{po.state.ref.moid}", []).append(po)
    problems: list[ObjectProblem] = []
    for key, members in groups.items():
        members.sort(key=lambda p: p.state.ref.name)
        problems += _window(conn, key, members, w)
    return problems


def _window(conn: Connection, key: str, members: list[PlannedObject], w: Window) -> list[ObjectProblem]:
    n = max(1, min(parallel(po) for po in members))
    problems: list[ObjectProblem] = []
    stopped: str | None = None
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="vsr-rolling") as pool:
        for start in range(0, len(members), n):
            batch = members[start:start + n]
            if stopped is not None:
                for po in batch:
                    _mark(po, Outcome.SKIPPED, f"{WINDOW}: not started: the window stopped at {stopped}")
                    problems += w.finish(po, [])
                continue
            for po, (ok, found) in zip(batch, pool.map(lambda po: _safe_host(conn, po, w), batch)):
                problems += w.finish(po, found)
                if not ok and stopped is None:
                    stopped = po.state.ref.name
    if stopped is not None:
        log.warning("rolling window stopped", window=key, host=stopped)
    return problems


def _event(po: PlannedObject, reason: str, message: str, warning: bool = False) -> ev.Event:
    return ev.Event(type=ev.WARNING if warning else ev.NORMAL, reason=reason, object=po.state.ref,
                    message=f"{WINDOW}: {message}")


def _mark(po: PlannedObject, outcome: Outcome, message: str) -> None:
    """The host's changes not attempted (the window stopped before it) say why."""
    po.changes = [c.with_(outcome=outcome, message=message) if c.actionable and c.outcome is Outcome.PLANNED else c
                  for c in po.changes]


def _fail_open(po: PlannedObject, message: str) -> None:
    """The host's changes (written in its window) not settled as applied fail with the window's reason."""
    po.changes = [c.with_(outcome=Outcome.FAILED, error=f"{c.error}; {message}" if c.error else message)
                  if c.actionable and c.outcome in (Outcome.PLANNED, Outcome.FAILED, Outcome.NOT_EFFECTIVE)
                  else c for c in po.changes]


def _unpend(po: PlannedObject) -> None:
    """Changes that were pending a reboot and still are after it become the window's to fail (`_fail_open`)."""
    pending = pending_changes(po)
    po.changes = [c.with_(reason=None) if c in pending else c for c in po.changes]


def _safe_host(conn: Connection, po: PlannedObject, w: Window) -> tuple[bool, list[ObjectProblem]]:
    try:
        return _host(conn, po, w)
    except Exception as exc:  # noqa: BLE001 - a fault on one host is reported for it and stops its window
        message = f"{WINDOW}: stopped: {faults.describe(exc)}"
        log.error("rolling maintenance failed", object=po.state.ref.name, error=message)
        _fail_open(po, message)
        return False, [ObjectProblem(po.state.ref, message)]


def _host(conn: Connection, po: PlannedObject, w: Window) -> tuple[bool, list[ObjectProblem]]:
    """One host's sequence. (ok, problems); not ok stops the window. Never raises."""
    name = po.state.ref.name
    host = po.state.mo
    w.guard(po)  # the guards judge the values to be written before anything disruptive happens
    changes = window_changes(po) + pending_changes(po)
    if not changes:
        return True, []

    def record(reason: str, message: str, warning: bool = False) -> None:
        log.info(message, object=name, reason=reason) if not warning else log.warning(message, object=name)
        try:
            w.record([_event(po, reason, message, warning)])
        except Exception as exc:  # noqa: BLE001 - the intents are the safety record; this is a step report
            log.error("cannot record the event", object=name, error=str(exc))

    def fail(step: str, exc: BaseException | str, in_maintenance: bool) -> tuple[bool, list[ObjectProblem]]:
        detail = exc if isinstance(exc, str) else f"{faults.fault_name(exc)}: {faults.fault_message(exc)}"
        where = "; the host is left in maintenance mode" if in_maintenance else ""
        message = f"{step} failed: {detail}{where}; the window stops"
        _fail_open(po, f"{WINDOW}: {message}")
        record("MaintenanceFailed", message, warning=True)
        return False, [ObjectProblem(po.state.ref, f"{WINDOW}: {message}")]

    try:
        pc = maintenance.precheck(po.state.ref.moid, maintenance.host_facts(conn))
    except Exception as exc:  # noqa: BLE001
        return fail("pre-check", exc, False)
    if not pc.ok:
        return fail("pre-check", pc.reason, False)
    record("MaintenancePrecheckPassed", f"pre-check ok: {pc.reason}")

    problem = w.intent(po, changes)  # entering maintenance mode is a write
    if problem is not None:
        w.unwritten(po)
        return False, [problem]
    try:
        maintenance.enter(conn, host)
    except Exception as exc:  # noqa: BLE001
        return fail("entering maintenance mode", exc, False)
    record("MaintenanceModeEntered", "entered maintenance mode")

    problems, touched = w.write(po)
    if problems:
        return fail("applying", "; ".join(p.message for p in problems), True)

    try:
        booted = maintenance.boot_time(conn, host)
        problem = w.intent(po, changes)  # the reboot is a write too
        if problem is not None:
            return False, [problem]
        maintenance.reboot(conn, host)
        record("HostRebooting", "rebooting")
        maintenance.wait_reconnected(conn, host, booted)
    except Exception as exc:  # noqa: BLE001
        return fail("reboot", exc, True)
    record("HostReconnected", "connected again after the reboot")

    pending = pending_changes(po)
    names = {c.controller for c in pending}
    verify = touched + [c for c in w.controllers_of(names) if c not in touched]
    problems = w.read_back(po, verify) if verify else []
    if pending and not problems:
        left = w.remaining(po, names)
        keys = {(c.controller, c.path, c.subject) for c in pending if (c.path, c.subject) not in left}
        po.changes = [c.with_(reason=None, outcome=Outcome.APPLIED, message=f"{WINDOW}: in effect after the reboot")
                      if (c.controller, c.path, c.subject) in keys and c.reason is Skip.PENDING_REBOOT else c
                      for c in po.changes]
    bad = [c for c in window_changes_after(po, changes) if c.outcome is not Outcome.APPLIED]
    if problems or bad:
        detail = "; ".join([p.message for p in problems] + [f"{planner_path(c)}: still pending after the reboot"
                                                             if c.reason is Skip.PENDING_REBOOT else
                                                             f"{planner_path(c)}: {c.outcome.value}" for c in bad])
        _unpend(po)
        return fail("verify", detail, True)
    record("MaintenanceVerified", f"verified {len(changes)} change(s) after the reboot")

    try:
        problem = w.intent(po, changes)
        if problem is not None:
            return False, [problem]
        maintenance.exit_(conn, host)
    except Exception as exc:  # noqa: BLE001
        return fail("exiting maintenance mode", exc, True)
    record("MaintenanceModeExited", "exited maintenance mode")
    return True, []


def window_changes_after(po: PlannedObject, before: list[Change]) -> list[Change]:
    keys = {(c.controller, c.path, c.subject) for c in before}
    return [c for c in po.changes if (c.controller, c.path, c.subject) in keys]


def planner_path(c: Change) -> str:
    return str(render_path(c.path))


__all__ = ["Window", "allowed", "annotate", "candidates", "run"]
