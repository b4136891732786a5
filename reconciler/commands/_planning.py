"""The planning step `vsr plan`, `vsr apply` and `vsr report` share: plan each vCenter (with a spinner on a
terminal), then keep only what `--target` selects, then find the policies that match nothing."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from typing import Any

from reconciler.engine import coverage, targets
from reconciler.engine.policies import policies_for
from reconciler.engine.runner import Pass


class Planned:
    """What the planning step found besides the plans: notes for the text output, fields for json/yaml."""

    def __init__(self) -> None:
        self.unmatched: list[coverage.Unmatched] = []
        self.unmatched_targets: list[str] = []
        self.target: targets.Target = targets.Target()

    @property
    def notes(self) -> list[str]:
        out = [f"warning: {u.message}" for u in self.unmatched]
        out += [f"warning: --target {s} selects nothing" for s in self.unmatched_targets]
        if self.target:
            out.append(f"note: restricted to --target {' '.join(self.target.selectors())}; other drift is not shown")
        return out

    def extra(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"unmatchedPolicies": [u.to_dict() for u in self.unmatched]}
        if self.target:
            doc["target"] = self.target.selectors()
        return doc


def parse_target(args: argparse.Namespace) -> targets.Target | None:
    """The `-l` selectors, or None after printing the error (the caller exits 1)."""
    try:
        return targets.parse(getattr(args, "target", None))
    except targets.TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def plan(one: Pass, target: targets.Target, bars: Any = None, vcenters: Collection[str] | None = None) -> Planned:
    names = [s.name for s in one.settings if vcenters is None or s.name in vcenters]
    for index, name in enumerate(names, 1):
        if bars is None:
            one.plan(vcenters={name})
        else:
            with bars.planning(name, index, len(names)):
                one.plan(vcenters={name})
    return finish(one, target)


def finish(one: Pass, target: targets.Target) -> Planned:
    """Restrict the pass's plans to `target` and collect the unmatched policies and selectors."""
    found = Planned()
    found.target = target
    specs = one.result.specs
    if specs is not None:
        pairs = [(vplan, specs.policies if one.adhoc else policies_for(specs, vplan.vcenter))
                 for vplan in one.result.plans]
        found.unmatched = coverage.unmatched_policies(pairs)
    for vplan in one.result.plans:
        targets.restrict(vplan, target)
    if target:
        found.unmatched_targets = targets.unmatched(target, one.result.plans)
    return found
