"""Policies whose selector matches no object: reported by name in plan, report (and, from the lead's call site,
the daemon's /status and an event). Pure: reads finished plans only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.engine import selection
from reconciler.engine.planner import VCenterPlan, kinds_of
from reconciler.engine.policies import CompiledPolicy


@dataclass(frozen=True)
class Unmatched:
    kind: str
    name: str
    source: str
    vcenters: tuple[str, ...]

    @property
    def message(self) -> str:
        where = ", ".join(self.vcenters)
        return f"{self.kind} {self.name} ({self.source}): its selector matches no object on {where}"

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name, "source": self.source, "vcenters": list(self.vcenters)}


def matches_any(policy: CompiledPolicy, vplan: VCenterPlan) -> bool:
    for po in vplan.objects:
        state = po.state
        if policy.kind not in kinds_of(state.ref.type):
            continue
        if selection.matches(policy.selector, state.ref.type, state.ref.name, state.placement, state.template,
                             policy.kind):
            return True
    return False


def unmatched_policies(policies_by_vcenter: Iterable[tuple[VCenterPlan, Iterable[CompiledPolicy]]]) -> list[Unmatched]:
    """Policies (not suspended) that match no planned object on any vCenter they were planned against."""
    seen: dict[tuple[str, str], CompiledPolicy] = {}
    matched: set[tuple[str, str]] = set()
    where: dict[tuple[str, str], list[str]] = {}
    for vplan, policies in policies_by_vcenter:
        for policy in policies:
            if policy.suspended:
                continue
            key = (policy.kind, policy.name)
            seen[key] = policy
            where.setdefault(key, []).append(vplan.vcenter)
            if key not in matched and matches_any(policy, vplan):
                matched.add(key)
    return [Unmatched(k[0], k[1], seen[k].source, tuple(where[k])) for k in sorted(seen) if k not in matched]
