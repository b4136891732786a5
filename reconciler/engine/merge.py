"""Merging the fields of several policies that select the same object.

Per field path: the highest priority wins; two policies at equal priority asking for different values are a
conflict and the field is not managed on that object until the specs are fixed; equal values agree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.controllers.contract import FieldPath
from reconciler.engine.types import DesiredValue


@dataclass(frozen=True)
class Conflict:
    path: FieldPath
    values: tuple[DesiredValue, ...]

    @property
    def message(self) -> str:
        parts = ", ".join(f"{v.policy} ({v.source}) wants {v.value!r}" for v in self.values)
        return f"policies at equal priority {self.values[0].priority} disagree: {parts}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return type(a) is type(b) and a == b


def merge(contributions: Iterable[Mapping[FieldPath, DesiredValue]]) -> tuple[dict[FieldPath, DesiredValue], list[Conflict]]:
    winners: dict[FieldPath, DesiredValue] = {}
    tied: dict[FieldPath, list[DesiredValue]] = {}
    for fields in contributions:
        for path, candidate in fields.items():
            current = winners.get(path)
            if current is None or candidate.priority > current.priority:
                winners[path] = candidate
                tied.pop(path, None)
            elif candidate.priority == current.priority and not _same(candidate.value, current.value):
                tied.setdefault(path, [current]).append(candidate)
    conflicts = [Conflict(path, tuple(values)) for path, values in sorted(tied.items())]
    for conflict in conflicts:
        winners.pop(conflict.path, None)
    return winners, conflicts
