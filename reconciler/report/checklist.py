"""STIG Viewer checklists from a report: one checklist per host / VM, one STIG per benchmark whose IDs the object's
results carry (ESXI-80 and VMCH-80: vSphere 8 STIG V2R3; VCFE-9X and VCFV-9X: VCF 9 STIG), one rule per STIG ID of
that benchmark in the catalog. `cklb.py` (STIG Viewer 3 JSON) and `ckl.py` (STIG Viewer 2 XML) write this model.

A rule's status comes from the worst of the object's results that carry its STIG ID:

| vsr | checklist |
|---|---|
| pass, attested | not_a_finding |
| fail, pending, waived | open (a waiver is an accepted risk: the finding stays open, the waiver is in the comments) |
| unsupported, expired attestation | not_reviewed (vsr could not measure it; the evidence lapsed) |
| no result | not_reviewed, with why (not set by the specs, or why vsr cannot assess it) |

vsr's catalog does not carry DISA's group (V-) and rule (SV-) numbers or severities: group_id and rule_id carry the
STIG ID (also rule_version), severity is `unknown`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from reconciler import catalog
from reconciler.catalog import Control
from reconciler.events.model import ObjectRef
from reconciler.report.model import ATTESTATION_EXPIRED, ATTESTED, FAIL, PASS, PENDING, WAIVED, Report, Row, worst
from reconciler.report.text import short

NOT_A_FINDING, OPEN, NOT_APPLICABLE, NOT_REVIEWED = "not_a_finding", "open", "not_applicable", "not_reviewed"
STATUSES = (OPEN, NOT_A_FINDING, NOT_APPLICABLE, NOT_REVIEWED)
_NS = uuid.UUID("8f0b6a52-6d0e-4c4e-9a35-6b9f1d0c7a11")  # vsr's namespace for stable checklist UUIDs


@dataclass(frozen=True)
class Benchmark:
    prefix: str
    stig_id: str
    title: str
    display: str
    version: str
    release_info: str
    targets: tuple[str, ...]  # catalog targets whose controls are rules of this STIG
    object_type: str


BENCHMARKS = (
    Benchmark("ESXI-80-", "VMW_vSphere_8-0_ESXi_STIG", "VMware vSphere 8.0 ESXi Security Technical Implementation Guide",
              "VMware vSphere 8.0 ESXi", "2", "Release: 3", ("host", "vswitch", "standard-portgroup"), "HostSystem"),
    Benchmark("VCFE-9X-", "VMW_VCF_9-x_ESX_STIG", "VMware Cloud Foundation 9.x ESX Security Technical Implementation "
              "Guide", "VMware Cloud Foundation 9.x ESX", "1", "", ("host", "vswitch", "standard-portgroup"),
              "HostSystem"),
    Benchmark("VMCH-80-", "VMW_vSphere_8-0_Virtual_Machine_STIG", "VMware vSphere 8.0 Virtual Machine Security "
              "Technical Implementation Guide", "VMware vSphere 8.0 Virtual Machine", "2", "Release: 3",
              ("vm", "guest"), "VirtualMachine"),
    Benchmark("VCFV-9X-", "VMW_VCF_9-x_VM_STIG", "VMware Cloud Foundation 9.x VM Security Technical Implementation "
              "Guide", "VMware Cloud Foundation 9.x VM", "1", "", ("vm", "guest"), "VirtualMachine"),
)
CHECKLIST_TYPES = ("HostSystem", "VirtualMachine")


@dataclass
class Rule:
    stig_id: str  # e.g. ESXI-80-000193 (DISA's Rule_Ver)
    controls: tuple[Control, ...]
    status: str
    finding_details: str
    comments: str
    uuid: str

    @property
    def title(self) -> str:
        return self.controls[0].title

    @property
    def check_content(self) -> str:
        lines = []
        for c in self.controls:
            setting = f"{c.setting} = {c.stig_value or c.desired}" if c.setting else ""
            lines.append("; ".join(p for p in (f"{c.id} ({', '.join(c.official_ids)})", setting,
                                                c.powercli_check and f"PowerCLI: {c.powercli_check}") if p))
        return "\n".join(lines)

    @property
    def fix_text(self) -> str:
        fixes = [c.powercli_fix for c in self.controls if c.powercli_fix]
        paths = [f.text for c in self.controls for f in c.fields]
        return "\n".join(fixes + ([f"vsr spec field(s): {', '.join(dict.fromkeys(paths))}"] if paths else []))

    @property
    def discussion(self) -> str:
        return "\n".join(dict.fromkeys(c.functional_impact for c in self.controls if c.functional_impact))

    @property
    def ia_controls(self) -> str:
        """NIST 800-53r5 IDs (and PCI DSS 4.0.1 IDs) of the rule's controls."""
        nist = dict.fromkeys(n for c in self.controls for n in c.nist)
        pci = dict.fromkeys(p for c in self.controls for p in c.pci)
        return "; ".join(p for p in (", ".join(nist) and f"NIST 800-53r5 {', '.join(nist)}",
                                      ", ".join(pci) and f"PCI DSS 4.0.1 {', '.join(pci)}") if p)


@dataclass
class Stig:
    benchmark: Benchmark
    uuid: str
    rules: list[Rule] = field(default_factory=list)


@dataclass
class Checklist:
    object: ObjectRef
    cluster: str
    stigs: list[Stig]
    uuid: str

    @property
    def file_stem(self) -> str:
        raw = f"{self.object.vcenter}_{self.object.name}_{self.object.moid}"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._") or "checklist"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


@lru_cache(maxsize=8)
def _rules_by_stig_id(benchmark: Benchmark) -> dict[str, tuple[Control, ...]]:
    out: dict[str, dict[str, Control]] = {}
    for control in catalog.controls():
        if control.target not in benchmark.targets:
            continue
        for sid in control.stig:
            if sid.startswith(benchmark.prefix):
                out.setdefault(sid, {})[control.id] = control
    return {sid: tuple(found.values()) for sid, found in sorted(out.items())}


def _status(rows: list[Row]) -> str:
    if not rows:
        return NOT_REVIEWED
    status = worst([r.status for r in rows])
    if status in (PASS, ATTESTED):
        return NOT_A_FINDING
    lead = next(r for r in rows if r.status == status).lead
    if status == FAIL and lead.reason == ATTESTATION_EXPIRED:
        return NOT_REVIEWED
    return OPEN if status in (FAIL, PENDING, WAIVED) else NOT_REVIEWED


def _details(rows: list[Row], report: Report) -> str:
    """What vsr measured: one line per field (status, path, current -> desired, spec file:line)."""
    when = report.generated.isoformat(timespec="seconds")
    lines = []
    for row in rows:
        for f in row.fields:
            if not f.path:  # an attestation: nothing was measured
                lines.append(f"{f.status}: {row.control_id}: not measured by vsr; {f.message}")
                continue
            text = f"{f.status}: {row.control_id}: {f.label}: current {short(f.current)}, desired {short(f.desired)}"
            lines.append(text + (f" (spec {f.source}, policy {f.policy})" if f.source else ""))
    return (f"vsr {report.version}, {when}:\n" + "\n".join(lines)) if lines else ""


def _comments(rows: list[Row], controls: tuple[Control, ...]) -> str:
    """Waivers, attestations and reasons from vsr's results; for an unassessed rule, why."""
    notes = [f"{f.status}: {f.message}" for r in rows for f in r.fields
             if f.message and (f.status != PASS or f.reason)]
    if not rows:
        why = [f"{c.id}: vsr cannot assess it ({c.unmanaged.category}): {c.unmanaged.reason}"
               for c in controls if c.unmanaged]
        notes = why or [f"not set by the specs: no vsr policy selecting this object sets {', '.join(c.id for c in controls)}"]
    return "\n".join(dict.fromkeys(notes))


def build(report: Report, stig_filters: Iterable[str] = ()) -> list[Checklist]:
    """One checklist per host and VM of the report (in report order). `stig_filters` (globs of
    `--filter stig=GLOB`) limit the STIGs and rules written."""
    import fnmatch

    globs = [g.lower() for g in stig_filters]
    by_object: dict[ObjectRef, list[Row]] = {}
    clusters: dict[ObjectRef, str] = {}
    for row in report.rows:
        if row.object.type in CHECKLIST_TYPES:
            by_object.setdefault(row.object, []).append(row)
            clusters[row.object] = row.cluster
    out = []
    for ref, rows in by_object.items():
        key = f"{ref.vcenter}/{ref.type}/{ref.moid}"
        stigs = []
        for bench in (b for b in BENCHMARKS if b.object_type == ref.type):
            carried = {sid for r in rows for sid in r.frameworks["stig"] if sid.startswith(bench.prefix)}
            if globs:
                carried = {s for s in carried if any(fnmatch.fnmatchcase(s.lower(), g) for g in globs)}
            if not carried:
                continue
            stig = Stig(bench, _uuid(key, bench.stig_id))
            for sid, controls in _rules_by_stig_id(bench).items():
                if globs and not any(fnmatch.fnmatchcase(sid.lower(), g) for g in globs):
                    continue
                mine = [r for r in rows if sid in r.frameworks["stig"]]
                stig.rules.append(Rule(sid, controls, _status(mine), _details(mine, report),
                                       _comments(mine, controls), _uuid(key, bench.stig_id, sid)))
            stigs.append(stig)
        if stigs:
            out.append(Checklist(ref, clusters[ref], stigs, _uuid(key)))
    return out


__all__ = ["BENCHMARKS", "Checklist", "NOT_APPLICABLE", "NOT_A_FINDING", "NOT_REVIEWED", "OPEN", "Rule", "STATUSES",
           "Stig", "build"]
