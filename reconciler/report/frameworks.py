"""Framework IDs of report rows (SCG 8, SCG 9, STIG, NIST 800-53r5, PCI DSS 4.0.1), `--filter KEY=GLOB` and the
summaries grouped by NIST family (`AC`) or PCI DSS requirement (`8`).

NIST IDs compare without leading zeros (`AC-7(1)` matches the catalog's `AC-07(01)`); globs are case-insensitive."""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import Control

FRAMEWORKS = ("scg8", "scg9", "stig", "nist", "pci")
FILTER_KEYS = (*FRAMEWORKS, "control")
GROUPINGS = {"nist": "NIST 800-53r5 family", "pci": "PCI DSS 4.0.1 requirement"}
_NUMBER = re.compile(r"\d+")


def ids_of(controls: Iterable[Control]) -> dict[str, list[str]]:
    """Every framework's IDs of a row's catalog controls (SCG 8 / STIG V2R3 first, then SCG 9 / VCF 9 STIG)."""
    out: dict[str, dict[str, None]] = {k: {} for k in FRAMEWORKS}
    for c in controls:
        out["scg9" if c.guide == "scg-9" else "scg8"].update(dict.fromkeys(c.scg))
        out["stig"].update(dict.fromkeys(c.stig))
        out["nist"].update(dict.fromkeys(c.nist))
        out["pci"].update(dict.fromkeys(c.pci))
    return {k: list(v) for k, v in out.items()}


def normal_nist(value: str) -> str:
    """`AC-07(01)` -> `AC-7(1)`: how NIST writes it and how people type it."""
    return _NUMBER.sub(lambda m: str(int(m.group())), value.strip().upper())


def nist_family(value: str) -> str:
    return value.split("-", 1)[0].strip().upper()


def pci_requirement(value: str) -> str:
    return value.split(".", 1)[0].strip()


GROUP_KEY = {"nist": nist_family, "pci": pci_requirement}


@dataclass(frozen=True)
class Filter:
    """`KEY=GLOB`: a row matches when one of its KEY IDs matches the glob (`control`: the catalog id or any ID)."""

    key: str
    pattern: str

    @property
    def text(self) -> str:
        return f"{self.key}={self.pattern}"

    def matches(self, ids: dict[str, list[str]], control_id: str) -> bool:
        if self.key == "control":
            values = [control_id, *(v for k in FRAMEWORKS for v in ids[k])]
        else:
            values = ids[self.key]
        if self.key == "nist":
            pattern = normal_nist(self.pattern)
            return any(fnmatch.fnmatchcase(normal_nist(v), pattern) for v in values)
        pattern = self.pattern.lower()
        return any(fnmatch.fnmatchcase(v.lower(), pattern) for v in values)


def parse_filter(text: str) -> Filter:
    """`nist=AC-*` -> Filter; ValueError with the accepted keys otherwise."""
    key, sep, pattern = text.partition("=")
    key = key.strip().lower()
    if not sep or key not in FILTER_KEYS or not pattern.strip():
        raise ValueError(f"--filter {text!r}: expected KEY=GLOB with KEY one of {', '.join(FILTER_KEYS)} "
                         "(e.g. nist=AC-*, pci=8.*, stig=ESXI-80-*)")
    return Filter(key, pattern.strip())


def row_matches(filters: Iterable[Filter], ids: dict[str, list[str]], control_id: str) -> bool:
    """Filters of one key are alternatives (OR); different keys must all match (AND)."""
    by_key: dict[str, list[Filter]] = {}
    for f in filters:
        by_key.setdefault(f.key, []).append(f)
    return all(any(f.matches(ids, control_id) for f in group) for group in by_key.values())


def grouped(rows: Iterable[Any], framework: str) -> list[dict[str, Any]]:
    """One entry per NIST family / PCI requirement: the catalog controls and result counts under it (a row with
    IDs in two families counts in both; rows without IDs of the framework are not listed)."""
    from reconciler.report.model import STATUSES
    from reconciler.report.scope import percent

    key_of = GROUP_KEY[framework]
    counts: dict[str, Counter[str]] = {}
    controls: dict[str, dict[str, None]] = {}
    ids: dict[str, dict[str, None]] = {}
    for row in rows:
        found = row.frameworks[framework]
        for group in dict.fromkeys(key_of(v) for v in found):
            counts.setdefault(group, Counter())[row.status] += 1
            controls.setdefault(group, {})[row.control_id] = None
            ids.setdefault(group, {}).update(dict.fromkeys(v for v in found if key_of(v) == group))
    order = sorted(counts, key=lambda g: (int(g) if g.isdigit() else 0, g))
    return [{"group": g, "ids": sorted(ids[g]), "controls": list(controls[g]), "results": sum(counts[g].values()),
             "percent": percent(counts[g]), **{s: counts[g][s] for s in reversed(STATUSES)}} for g in order]
