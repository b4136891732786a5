"""Identical changes across objects, grouped: one entry per (object type, field, current -> desired, policy,
reason, outcome) with the objects it concerns. Used by the text plan and the Markdown report."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.controllers.contract import Skip
from reconciler.engine.types import Change, Outcome, jsonable, render_path

NAMES_SHOWN = 3
VALUE_LIMIT = 60
_NOUNS = {"HostSystem": ("host", "hosts"), "VirtualMachine": ("VM", "VMs"),
          "DistributedVirtualPortgroup": ("portgroup", "portgroups"),
          "DistributedVirtualSwitch": ("switch", "switches"), "VmwareDistributedVirtualSwitch": ("switch", "switches"),
          "ClusterComputeResource": ("cluster", "clusters"), "Folder": ("folder", "folders"),
          "Datacenter": ("datacenter", "datacenters"), "OptionManager": ("vCenter's settings", "vCenters' settings"),
          "CryptoManagerKmip": ("vCenter's key providers", "vCenters' key providers")}
_PENDING = (Skip.NEEDS_POWER_OFF, Skip.PENDING_POWER_CYCLE, Skip.NEEDS_REBOOT, Skip.PENDING_REBOOT)
_REASON_WORDS = {Skip.AUDIT: "audit only", Skip.WAIVED: "waived", Skip.NEEDS_FIRMWARE_CHANGE: "need a firmware change",
                 Skip.UNSUPPORTED: "unsupported", Skip.GUARD: "refused by a guard", Skip.CONFLICT: "in conflict",
                 Skip.INVALID: "invalid", Skip.FLAPPING: "flapping", Skip.SUSPENDED: "suspended",
                 Skip.STALE: "stale", Skip.NOT_IN_SAVED_PLAN: "not in the saved plan"}
_OUTCOME_WORDS = {Outcome.APPLIED: "fixed", Outcome.NOT_EFFECTIVE: "not effective", Outcome.FAILED: "failed",
                  Outcome.SKIPPED: "skipped", Outcome.UNKNOWN: "not verified"}


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[Any, ...], str]:
    """Sort key that puts `esx-2` before `esx-10` and `DC0_C0_H2` before `DC0_C0_H10`: runs of digits compare as
    numbers, the rest without case (then exactly, so equal-looking names keep one order)."""
    parts = _DIGITS.split(name)              # str, digits, str, digits, ...: kinds never meet at one position
    return tuple(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)), name


def noun(type_: str, count: int) -> str:
    """`1 host`, `32 hosts`, `2 VMs`; unknown types as `3 Foo objects`."""
    one, many = _NOUNS.get(type_, (f"{type_} object", f"{type_} objects"))
    return f"{count} {one if count == 1 else many}"


def value_text(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value for one line: `unset` for None, `""` for an empty string, strings bare, the rest as JSON."""
    if value is None:
        return "unset"
    if isinstance(value, str):
        text = value if value and value.strip() == value else json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(jsonable(value), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def marker(change: Change) -> str:
    """terraform's habit: `+` a value is set where there was none, `-` one is removed, `~` one is changed,
    `!` nothing will be done (waived, unsupported, refused, ...)."""
    if change.reason is not None:
        return "!"
    if change.current is None or change.current == [] or change.current == {}:
        return "+"
    if change.desired is None or change.desired in ("absent", [], {}):
        return "-"
    return "~"


@dataclass
class Group:
    type: str
    label: str          # the field, with the sub-object in brackets
    current: str
    desired: str
    policy: str
    reason: Skip | None
    outcome: Outcome
    impact: str
    message: str
    mark: str
    changes: list[Change] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        several = len({c.object.vcenter for c in self.changes}) > 1
        return sorted({(f"{c.object.vcenter}/" if several else "") + (c.object.name or c.object.moid)
                       for c in self.changes}, key=natural_key)

    @property
    def count(self) -> int:
        return len({(c.object.vcenter, c.object.moid) for c in self.changes})

    def names_text(self, limit: int = NAMES_SHOWN) -> str:
        names = self.names
        shown = ", ".join(names[:limit])
        return shown + (f", … +{len(names) - limit}" if len(names) > limit else "")

    @property
    def controls(self) -> tuple[str, ...]:
        return tuple(sorted({c for change in self.changes for c in change.controls}))

    @property
    def tags(self) -> list[str]:
        out = []
        if self.reason is not None:
            out.append(self.reason.value)
        if self.outcome is not Outcome.PLANNED:
            out.append(_OUTCOME_WORDS[self.outcome])
        if self.impact != "none":
            out.append(f"impact {self.impact}")
        return out


def group(changes: Iterable[Change]) -> list[Group]:
    """Groups in a stable order: by object type, field, then the largest group first."""
    out: dict[tuple[Any, ...], Group] = {}
    for c in changes:
        label = render_path(c.path) + (f" [{c.subject}]" if c.subject else "")
        detail = c.error or c.message
        key = (c.object.type, label, value_text(c.current), value_text(c.desired), c.policy, c.reason, c.outcome,
               c.impact.value, detail)
        if key not in out:
            out[key] = Group(c.object.type, label, key[2], key[3], c.policy, c.reason, c.outcome, c.impact.value,
                             detail, marker(c))
        out[key].changes.append(c)
    return sorted(out.values(), key=lambda g: (g.type, g.label, -g.count, g.current, g.desired))


def summary(changes: list[Change], applied: bool, objects_checked: int) -> str:
    """`Plan: 96 changes on 32 hosts, 4 pending power cycle, 1 waived` (or `Applied: ...` after an apply)."""
    actionable = [c for c in changes if c.reason is None]
    extra = _reason_counts(changes)
    if not changes:
        return f"No changes: {objects_checked} object(s) checked, all compliant."
    if applied:
        outcomes = Counter(c.outcome for c in actionable)
        parts = [f"{outcomes[o]} {_OUTCOME_WORDS[o]}" for o in (Outcome.APPLIED, Outcome.NOT_EFFECTIVE,
                                                                Outcome.FAILED, Outcome.UNKNOWN, Outcome.SKIPPED)
                 if outcomes[o]]
        head = f"Applied: {', '.join(parts) or '0 changes'} on {_objects(actionable)}"
    else:
        head = f"Plan: {len(actionable)} change{'' if len(actionable) == 1 else 's'} on {_objects(actionable)}"
    return ", ".join([head, *extra])


def _objects(changes: list[Change]) -> str:
    types = {c.object.type for c in changes}
    count = len({(c.object.vcenter, c.object.moid) for c in changes})
    return noun(types.pop(), count) if len(types) == 1 else f"{count} object{'' if count == 1 else 's'}"


def _reason_counts(changes: list[Change]) -> list[str]:
    reasons = Counter(c.reason for c in changes if c.reason is not None)
    out = []
    pending = sum(reasons.pop(r, 0) for r in _PENDING)
    if pending:
        out.append(f"{pending} pending power cycle")
    for reason, words in _REASON_WORDS.items():
        if reasons[reason]:
            out.append(f"{reasons[reason]} {words}")
    return out
