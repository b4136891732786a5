"""`--target` / `-l`: restrict a run to some objects, policies or controls, as terraform's -target.

A selector is `GLOB` or `object=GLOB` (an object's name or moid), `policy=GLOB` or `control=GLOB` (a catalog
control ID); globs are case-insensitive. Selectors of one sort are alternatives; different sorts must all hold.
The plan keeps only targeted objects and changes, so consent, `--out` (a saved plan then holds only the targeted
changes) and apply see nothing else; the executor's guard pass still runs on what is left."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from reconciler import catalog
from reconciler.controllers.contract import Skip
from reconciler.engine.planner import PlannedObject, VCenterPlan
from reconciler.engine.types import Change
from reconciler.events.model import ObjectRef

SORTS = ("object", "policy", "control")


class TargetError(ValueError):
    """A selector that cannot be parsed."""


@dataclass(frozen=True)
class Target:
    objects: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.objects or self.policies or self.controls)

    def selectors(self) -> list[str]:
        return ([f"object={g}" for g in self.objects] + [f"policy={g}" for g in self.policies]
                + [f"control={g}" for g in self.controls])


def parse(values: Iterable[str] | None) -> Target:
    """`-l` values (each may be comma-separated) as a Target; raises TargetError naming the bad selector."""
    found: dict[str, list[str]] = {s: [] for s in SORTS}
    for value in values or ():
        for item in (v.strip() for v in value.split(",")):
            if not item:
                continue
            sort, sep, glob = item.partition("=")
            if not sep:
                sort, glob = "object", item
            sort = sort.strip().lower()
            if sort not in found:
                raise TargetError(f"--target {item}: unknown selector {sort!r}; use NAME, object=NAME, policy=NAME "
                                  "or control=ID")
            if not glob.strip():
                raise TargetError(f"--target {item}: empty {sort} pattern")
            found[sort].append(glob.strip())
    return Target(tuple(found["object"]), tuple(found["policy"]), tuple(found["control"]))


def glob_match(globs: tuple[str, ...], *names: str) -> bool:
    return any(fnmatchcase(n.lower(), g.lower()) for g in globs for n in names if n)


def object_matches(target: Target, ref: ObjectRef) -> bool:
    return not target.objects or glob_match(target.objects, ref.name, ref.moid)


def change_matches(target: Target, change: Change) -> bool:
    if not object_matches(target, change.object):
        return False
    if target.policies and not glob_match(target.policies, change.policy):
        return False
    if target.controls:
        ids = change.controls or catalog.controls_for(change.object.type, change.path)
        if not glob_match(target.controls, *ids):
            return False
    return True


def _object_kept(target: Target, po: PlannedObject) -> bool:
    ref = po.state.ref
    if not object_matches(target, ref):
        return False
    values = [(path, want) for desired in po.desired.values() for path, want in desired.items()]
    if target.policies and not any(glob_match(target.policies, want.policy) for _, want in values) \
            and not any(glob_match(target.policies, c.policy) for c in po.changes):
        return False
    if target.controls and not any(glob_match(target.controls, *catalog.controls_for(ref.type, path))
                                   for path, _ in values) \
            and not any(change_matches(target, c) for c in po.changes):
        return False
    return True


def restrict(vplan: VCenterPlan, target: Target) -> None:
    """Drop from `vplan` every object and change the target does not select (in place)."""
    if not target:
        return
    conflicts = [c for c in vplan.plan.changes if c.reason is Skip.CONFLICT and change_matches(target, c)]
    vplan.objects = [po for po in vplan.objects if _object_kept(target, po)]
    for po in vplan.objects:
        po.changes = [c for c in po.changes if change_matches(target, c)]
    vplan.plan.changes = conflicts
    vplan.collect_changes()
    vplan.plan.problems = [p for p in vplan.plan.problems if object_matches(target, p.object)]
    vplan.plan.unmanaged = [r for r in vplan.plan.unmanaged if object_matches(target, r)]
    vplan.plan.objects_checked = len(vplan.objects)


def unmatched(target: Target, plans: Iterable[VCenterPlan]) -> list[str]:
    """The selectors that selected nothing in these (restricted) plans, for a warning."""
    plans = list(plans)
    refs = [po.state.ref for p in plans for po in p.objects]
    changes = [c for p in plans for c in p.plan.changes]
    policies = {want.policy for p in plans for po in p.objects for d in po.desired.values() for want in d.values()}
    policies |= {c.policy for c in changes}
    controls = {cid for p in plans for po in p.objects for d in po.desired
                for path in po.desired[d] for cid in catalog.controls_for(po.state.ref.type, path)}
    controls |= {cid for c in changes for cid in c.controls}
    out = [f"object={g}" for g in target.objects if not any(glob_match((g,), r.name, r.moid) for r in refs)]
    out += [f"policy={g}" for g in target.policies if not glob_match((g,), *policies)]
    out += [f"control={g}" for g in target.controls if not glob_match((g,), *controls)]
    return out
