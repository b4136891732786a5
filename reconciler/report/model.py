"""The compliance report model: one row per object x control, built from a run's plans (apply=False).

A plan lists only fields that differ, so "pass" rows come from the desired fields of each planned object that
have no change. Statuses: pass, fail, waived, unsupported, pending (waiting for a power-off or a cold start),
attested (a manual or process control covered by an active Attestation; an expired one is reported as fail).
Every renderer (json, junit, sarif, html, markdown) reads this model only."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from reconciler import __version__, catalog
from reconciler import controllers as registry
from reconciler.api import fields as shape
from reconciler.catalog import Control
from reconciler.controllers.dvpg_security import is_uplink
from reconciler.engine.attestations import AttestationRule
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.runner import RunResult
from reconciler.controllers.contract import FieldPath, Skip
from reconciler.engine.types import Change, jsonable, render_path
from reconciler.events.model import ObjectRef

PASS, FAIL, WAIVED, UNSUPPORTED, PENDING, ATTESTED = "pass", "fail", "waived", "unsupported", "pending", "attested"
STATUSES = (FAIL, PENDING, UNSUPPORTED, WAIVED, ATTESTED, PASS)  # worst first
ATTESTATION_EXPIRED = "attestationExpired"
#: the object types a control of each catalog target is attested on (vCenter-level ones: any selected object)
_TARGET_TYPES = {"host": ("HostSystem",), "vswitch": ("HostSystem",), "standard-portgroup": ("HostSystem",),
                 "vm": ("VirtualMachine",), "guest": ("VirtualMachine",), "dvportgroup": ("DistributedVirtualPortgroup",)}
_BY_REASON = {Skip.WAIVED: WAIVED, Skip.UNSUPPORTED: UNSUPPORTED, Skip.NEEDS_POWER_OFF: PENDING,
              Skip.PENDING_POWER_CYCLE: PENDING, Skip.NEEDS_REBOOT: PENDING, Skip.PENDING_REBOOT: PENDING}


def status_of(change: Change) -> str:
    """Drift, audit-only, guarded, conflicting or invalid fields fail; waived, unsupported and power-state-bound
    ones are shown as such."""
    return _BY_REASON.get(change.reason, FAIL) if change.reason is not None else FAIL


def worst(statuses: list[str]) -> str:
    return min(statuses, key=STATUSES.index) if statuses else PASS


@dataclass
class FieldResult:
    """One spec field on one object (and sub-object, e.g. a vSwitch), with its verdict."""

    path: FieldPath
    status: str
    current: Any
    desired: Any
    subject: str = ""
    impact: str = "none"
    reason: str | None = None
    message: str = ""
    policy: str = ""
    source: str = ""

    @property
    def label(self) -> str:
        return render_path(self.path) + (f" [{self.subject}]" if self.subject else "")

    def as_dict(self) -> dict[str, Any]:
        return {"path": render_path(self.path), "subject": self.subject or None, "status": self.status,
                "current": jsonable(self.current), "desired": jsonable(self.desired), "impact": self.impact,
                "reason": self.reason, "message": self.message or None, "policy": self.policy,
                "source": self.source}


@dataclass
class Row:
    """One object x one control: the fields that implement the control on that object."""

    object: ObjectRef
    control_id: str
    controls: tuple[str, ...]
    title: str
    fields: list[FieldResult]
    control: Control | None = None
    cluster: str = ""  # the cluster the object sits in (a VM: its host's), "" when none or unknown

    @property
    def status(self) -> str:
        return worst([f.status for f in self.fields])

    @property
    def lead(self) -> FieldResult:
        """The field that decides the row's status (the first of the worst)."""
        return next(f for f in self.fields if f.status == self.status)

    @property
    def catalog_controls(self) -> tuple[Control, ...]:
        """Every catalog control the row's fields implement (the primary one first)."""
        found: dict[str, Control] = {self.control.id: self.control} if self.control else {}
        for f in self.fields:
            found.update((c.id, c) for c in catalog.matching(self.object.type, f.path))
        return tuple(found.values())

    @cached_property
    def frameworks(self) -> dict[str, list[str]]:
        """SCG 8, SCG 9, STIG, NIST 800-53r5 and PCI DSS IDs of the row's controls."""
        from reconciler.report.frameworks import ids_of

        return ids_of(self.catalog_controls)

    @property
    def current(self) -> Any:
        return self.fields[0].current if len(self.fields) == 1 else {f.label: f.current for f in self.fields}

    @property
    def desired(self) -> Any:
        return self.fields[0].desired if len(self.fields) == 1 else {f.label: f.desired for f in self.fields}

    @property
    def message(self) -> str:
        return "; ".join(f"{f.label}: {f.message}" if f.label else f.message  # an attestation has no field
                         for f in self.fields if f.message and f.status == self.status)

    def as_dict(self) -> dict[str, Any]:
        lead = self.lead
        return {
            "object": self.object.to_dict(), "control": self.control_id, "controls": list(self.controls),
            "frameworks": self.frameworks, "title": self.title, "status": self.status,
            "path": render_path(lead.path),
            "current": jsonable(self.current), "desired": jsonable(self.desired),
            "impact": self.control.impact if self.control else lead.impact, "reason": lead.reason,
            "message": self.message or None, "policy": lead.policy, "source": lead.source,
            "fields": [f.as_dict() for f in self.fields],
        }


@dataclass
class ControlSummary:
    """One control across all objects: for the per-control tables and SARIF rules."""

    id: str
    controls: tuple[str, ...]
    title: str
    control: Control | None
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def status(self) -> str:
        return worst([s for s in STATUSES if self.counts[s]])

    def as_dict(self) -> dict[str, Any]:
        c = self.control
        return {"id": self.id, "controls": list(self.controls), "title": self.title, "status": self.status,
                "source": c.source if c else "", "impact": c.impact if c else "none",
                "counts": {s: self.counts[s] for s in reversed(STATUSES)}}


@dataclass
class Report:
    rows: list[Row]
    problems: list[dict[str, Any]] = field(default_factory=list)
    spec_issues: list[Any] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)
    exit_code: int = 0
    generated: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    version: str = __version__
    scope: dict[str, Any] = field(default_factory=dict)      # see scope.build: vCenters, revision, baselines
    coverage: dict[str, Any] = field(default_factory=dict)   # objects checked and uncovered, controls assessed
    group_by: str = ""  # `--group-by nist|pci`: the HTML view's initial grouping, a grouped table in Markdown

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(r.status for r in self.rows)
        return {s: found[s] for s in reversed(STATUSES)}

    @property
    def objects(self) -> int:
        return len({(r.object.vcenter, r.object.type, r.object.moid) for r in self.rows})

    def by_control(self) -> list[ControlSummary]:
        out: dict[str, ControlSummary] = {}
        for row in self.rows:
            summary = out.setdefault(row.control_id, ControlSummary(row.control_id, row.controls, row.title,
                                                                    row.control))
            summary.counts[row.status] += 1
        return sorted(out.values(), key=lambda s: (STATUSES.index(s.status), s.id))

    @property
    def errors(self) -> list[str]:
        """Everything that stopped part of the run: spec errors, unreachable vCenters, objects that faulted."""
        return ([str(i) for i in self.spec_issues if i.is_error] + list(self.connection_errors)
                + [f"{p['object']['type']} {p['object']['name']}: {p['message']}" for p in self.problems])


def _is_parameter(controller: Any, path: FieldPath) -> bool:
    """Policy-wide parameters (powerCycle, excludePortgroups, keyProvider, ...) are not compliance results."""
    return shape.is_parameter(controller.policy_kind, path)


def _field_results(po: PlannedObject) -> list[FieldResult]:
    by_name = {c.name: c for c in registry.ALL}
    out: list[FieldResult] = []
    used: set[int] = set()
    for name, desired in po.desired.items():
        controller = by_name[name]
        for path, want in sorted(desired.items()):
            if _is_parameter(controller, path):
                continue
            changes = [c for c in po.changes if c.controller == name and c.path == path]
            if not changes:
                shown = controller.display(path, want.value)
                out.append(FieldResult(path, PASS, shown, shown, policy=want.policy, source=want.source))
            out.extend(_from_change(c) for c in changes)
            used.update(id(c) for c in changes)
    out.extend(_from_change(c) for c in po.changes if id(c) not in used)  # never drop a change
    return out


def _from_change(change: Change) -> FieldResult:
    return FieldResult(change.path, status_of(change), change.current, change.desired, change.subject,
                       change.impact.value, change.reason.value if change.reason else None,
                       change.error or change.message, change.policy, change.source)


def _rows(ref: ObjectRef, results: list[FieldResult], cluster: str = "") -> list[Row]:
    rows: dict[str, Row] = {}
    for result in results:
        control = catalog.control_for(ref.type, result.path)
        key = control.id if control else render_path(result.path)
        if key not in rows:
            ids = catalog.controls_for(ref.type, result.path)
            rows[key] = Row(ref, key, ids, control.title if control else "setting not in the control catalog",
                            [], control, cluster)
        rows[key].fields.append(result)
    return list(rows.values())


def build(result: RunResult, strict: bool = False, target: Any = None, unmatched: Any = (),
          spec_paths: Any = (), today: dt.date | None = None, filters: Any = ()) -> Report:
    """The report of a planning run (`run_once(..., apply=False)`), restricted to `target` (`--target`) and to
    the rows whose framework IDs match `filters` (`--filter nist=AC-*`)."""
    from reconciler.report import frameworks, scope

    rows: list[Row] = []
    problems: list[dict[str, Any]] = []
    rules = result.specs.attestations if result.specs is not None else []
    for vplan in result.plans:
        measured = _plan_rows(vplan)
        rows.extend(measured)
        rows.extend(_attested_rows(vplan, rules, today or dt.date.today(), measured))
        problems += [{"object": p.object.to_dict(), "controller": p.controller or None, "message": p.message}
                     for p in vplan.plan.problems]
    if target:
        rows = [r for r in rows if scope.row_targeted(r, target)]
    filters = list(filters)
    if filters:
        rows = [r for r in rows if frameworks.row_matches(filters, r.frameworks, r.control_id)]
    rows.sort(key=lambda r: (r.object.vcenter, r.object.type, r.object.name, r.control_id))
    code = result.exit_code(strict)
    if filters and code != 1:
        code = _exit_code_of(rows, strict)
    report = Report(rows, problems, list(result.spec_issues), list(result.connection_errors), code)
    report.scope = scope.scope_of(result, spec_paths, report.generated)
    if filters:
        report.scope["filters"] = [f.text for f in filters]
    report.coverage = scope.coverage_of(result, rows, unmatched)
    return report


def _exit_code_of(rows: list[Row], strict: bool) -> int:
    """The exit code of a filtered report: 2 when a selected row drifts (as `vsr plan` counts drift: waived,
    unsupported and pending only with `--strict`; attestations never), else 0."""
    lenient = {WAIVED, UNSUPPORTED, PENDING}
    for row in rows:
        for f in row.fields:
            if f.status in (PASS, ATTESTED) or f.reason == ATTESTATION_EXPIRED:
                continue
            if strict or f.status not in lenient:
                return 2
    return 0


def _plan_rows(vplan: VCenterPlan) -> list[Row]:
    results: dict[ObjectRef, list[FieldResult]] = {}
    clusters: dict[ObjectRef, str] = {}
    seen: set[int] = set()
    for po in vplan.objects:
        if po.state.ref.type == "DistributedVirtualPortgroup" and is_uplink(po.state.props):
            continue  # uplink portgroups are never managed
        clusters[po.state.ref] = po.state.placement.cluster or ""
        seen.update(id(c) for c in po.changes)
        results.setdefault(po.state.ref, []).extend(_field_results(po))
    for change in vplan.plan.changes:  # conflicts are reported without a planned object
        if id(change) not in seen:
            results.setdefault(change.object, []).append(_from_change(change))
    return [row for ref, found in results.items() for row in _rows(ref, found, clusters.get(ref, ""))]


def _attested_rows(vplan: VCenterPlan, rules: list[AttestationRule], today: dt.date, measured: list[Row]) -> list[Row]:
    """One row per planned object x control an Attestation selects, unless vsr measures that control on the
    object (a measured result is never replaced by a statement). An active attestation wins over an expired one."""
    if not rules:
        return []
    known = catalog.by_official_id()
    has: dict[ObjectRef, set[str]] = {}
    for row in measured:
        has.setdefault(row.object, set()).update((row.control_id, *row.controls))
    out: dict[tuple[ObjectRef, str], Row] = {}
    for po in vplan.objects:
        ref = po.state.ref
        for rule in rules:
            if rule.vcenter not in (None, ref.vcenter) or not rule.selects(
                    ref.type, ref.name, po.state.placement, po.state.template):
                continue
            status = ATTESTED if rule.active(today) else FAIL
            for control in (c for cid in rule.controls for c in known.get(cid, ())):
                if ref.type not in _TARGET_TYPES.get(control.target, (ref.type,)):
                    continue  # a host control is attested on hosts, a VM or guest control on VMs
                key = (ref, control.id)
                if control.id in has.get(ref, set()) or (key in out and out[key].status == ATTESTED):
                    continue
                result = FieldResult((), status, None, None, reason=None if status == ATTESTED else ATTESTATION_EXPIRED,
                                     message=rule.describe(today), policy=rule.name, source=rule.source)
                out[key] = Row(ref, control.id, control.official_ids, control.title, [result], control,
                               po.state.placement.cluster or "")
    return list(out.values())
