"""What a compliance report covers, stated in the report itself: scope (vCenters, spec revision, baselines and
their versions, generation time, vsr version), coverage (objects checked, objects no policy covers, controls
assessed and those vsr cannot assess, with why) and compliance percentages per baseline and per control family.

Compliance % = pass / (pass + fail + pending): waived and unsupported results are counted beside it, not in it."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from reconciler import __version__, catalog
from reconciler.engine import saved_plan, targets
from reconciler.engine.runner import RunResult

BASELINE_LABEL = "vsr.dev/baseline"
VERSION_LABEL = "vsr.dev/baseline-version"
_SCORED = ("pass", "fail", "pending")


def _labels(doc: Any) -> dict[str, str]:
    metadata = getattr(doc.model, "metadata", None)
    return dict(getattr(metadata, "labels", None) or {})


def baselines(documents: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Baselines in use, by the `vsr.dev/baseline` label of their documents: version and policy names."""
    out: dict[str, dict[str, Any]] = {}
    for doc in documents:
        labels = _labels(doc)
        name = labels.get(BASELINE_LABEL)
        if not name:
            continue
        entry = out.setdefault(name, {"name": name, "version": labels.get(VERSION_LABEL) or "unversioned",
                                      "policies": []})
        entry["policies"].append(doc.name)
    return out


def scope_of(result: RunResult, spec_paths: Iterable[Any], generated: dt.datetime) -> dict[str, Any]:
    paths = [str(p) for p in spec_paths]
    revision = saved_plan.spec_revision(paths, result.documents) if paths else {}
    return {
        "vcenters": sorted({p.vcenter for p in result.plans}),
        "specPaths": paths,
        "specRevision": revision,
        "baselines": sorted(baselines(result.documents).values(), key=lambda b: b["name"]),
        "generated": generated.isoformat(timespec="seconds"),
        "vsrVersion": __version__,
    }


def coverage_of(result: RunResult, rows: list[Any], unmatched: Iterable[Any] = ()) -> dict[str, Any]:
    assessed = sorted({r.control_id for r in rows if r.control is not None})
    not_assessable = [{"id": c.id, "category": c.unmanaged.category, "why": c.unmanaged.reason}
                      for c in catalog.controls() if c.unmanaged is not None]
    managed = [c for c in catalog.controls() if c.unmanaged is None]
    unmanaged = [r.to_dict() for p in result.plans for r in p.plan.unmanaged]
    return {
        "objectsChecked": sum(p.plan.objects_checked for p in result.plans),
        "objectsUncovered": len(unmanaged),
        "uncovered": unmanaged,
        "unmatchedPolicies": [u.to_dict() for u in unmatched],
        "controlsAssessed": len(assessed),
        "controlsNotInSpecs": len([c for c in managed if c.id not in set(assessed)]),
        "controlsNotAssessable": len(not_assessable),
        "notAssessable": not_assessable,
    }


def percent(counts: Counter[str]) -> float | None:
    scored = sum(counts[s] for s in _SCORED)
    return round(100.0 * counts["pass"] / scored, 1) if scored else None


def compliance(rows: list[Any], baselines_in_use: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Percentages per baseline (rows whose deciding field comes from one of its policies) and per control
    family (the catalog's mechanism: host-advanced-option, host-service, ...)."""
    by_policy = {p: b["name"] for b in baselines_in_use for p in b["policies"]}
    per_baseline: dict[str, Counter[str]] = defaultdict(Counter)
    per_family: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for row in rows:
        total[row.status] += 1
        family = row.control.mechanism if row.control and row.control.mechanism else "not in the catalog"
        per_family[family][row.status] += 1
        names = {by_policy[f.policy] for f in row.fields if f.policy in by_policy}
        for name in names:
            per_baseline[name][row.status] += 1

    def entry(name: str, counts: Counter[str]) -> dict[str, Any]:
        return {"name": name, "percent": percent(counts), **{s: counts[s] for s in
                                                             ("pass", "fail", "pending", "waived", "unsupported")}}

    return {"overall": entry("all", total),
            "byBaseline": [entry(n, c) for n, c in sorted(per_baseline.items())],
            "byFamily": [entry(n, c) for n, c in sorted(per_family.items())]}


def row_targeted(row: Any, target: targets.Target) -> bool:
    """Whether a report row is selected by `--target` (object name, a field's policy, the control IDs)."""
    if not targets.object_matches(target, row.object):
        return False
    if target.policies and not any(targets.glob_match(target.policies, f.policy) for f in row.fields):
        return False
    return not target.controls or targets.glob_match(target.controls, row.control_id, *row.controls)
