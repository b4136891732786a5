#!/usr/bin/env python3
"""Import the VCF 9.1 Security Configuration Guide controls into vsr's catalog.

Reads the SCG 9.1 controls CSV (one row per control: SCG ID, DISA STIG ID, NIST 800-53r5, PCI DSS 4.0.1, ...)
and the curated mapping scripts/scg9_mapping.yaml, and writes reconciler/catalog/scg9.yaml. Re-running it on
the same inputs gives the same file; `--check` exits 1 when the file on disk differs (a unit test runs it).

    python scripts/import_scg9.py [--csv PATH] [--check]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.catalog import aliases  # noqa: E402

CSV_NAME = Path("shared") / "reference" / "scg-9.1-controls.csv"
#: the project's reference copy: ../shared/reference beside the repository (or beside its worktrees' parent)
DEFAULT_CSV = next((d / CSV_NAME for d in ROOT.parents if (d / CSV_NAME).is_file()), ROOT.parent / CSV_NAME)
CSV_ENV_HINT = "pass --csv PATH (the project keeps it in ../shared/reference/)"
MAPPING = ROOT / "scripts" / "scg9_mapping.yaml"
OUTPUT = ROOT / "reconciler" / "catalog" / "scg9.yaml"
SCG8 = ROOT / "reconciler" / "catalog" / "controls.yaml"
SIM_OPTIONS = ROOT / "sim" / "options.go"
TYPES = {"H": "HostSystem", "V": "VirtualMachine", "D": "DistributedVirtualPortgroup", "S": "DistributedVirtualSwitch",
         "C": "OptionManager", "K": "CryptoManagerKmip"}
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
TARGET = {"esx": "host", "vm": "vm", "guest": "guest", "vcenter": "vcenter"}


def split_ids(text: str) -> list[str]:
    """`"AC-07, IA-05(05)"` -> ["AC-07", "IA-05(05)"]; "N/A" and blanks -> []."""
    return [p.strip() for p in re.split(r"[,\n]", text or "") if p.strip() and p.strip().upper() != "N/A"]


def sim_option_keys() -> set[str]:
    return set(re.findall(r'\{key: "([^"]+)"', SIM_OPTIONS.read_text(encoding="utf-8")))


def scg8_by_setting() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(target, setting) -> SCG 8 catalog entries, for linking advanced-option rows by parameter name."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for raw in yaml.safe_load(SCG8.read_text(encoding="utf-8"))["controls"]:
        out.setdefault((raw.get("target", ""), raw.get("setting", "")), []).append(raw)
    return out


def field(text: str) -> dict[str, str]:
    kind, _, path = text.partition(":")
    return {"type": TYPES[kind], "path": path}


def _auto(row: dict[str, str], target: str, options: set[str],
          scg8: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[str, Any]:
    """The automatic mapping of an advanced-option row (empty when the row is not one)."""
    key = row["Configuration Parameter"].strip()
    if target not in ("host", "vm") or not KEY.match(key) or (target == "host" and key not in options):
        return {}
    linked = [c for c in scg8.get((target, key), []) if c.get("fields")]
    if linked:
        base = linked[0]
        return {"replaces": [c["id"] for c in linked], "fields": base["fields"], "impact": base.get("impact", "none"),
                "site_specific": base.get("site_specific") or []}
    return {"fields": [{"type": "HostSystem" if target == "host" else "VirtualMachine",
                        "path": f"advancedSettings.{key}"}]}


def convert(rows: list[dict[str, str]], mapping: dict[str, dict[str, Any]], options: set[str],
            scg8: dict[tuple[str, str], list[dict[str, Any]]], scg8_ids: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for row in rows:
        sid = row["SCG ID"].strip()
        target = TARGET[sid.split("-", 1)[0]]
        curated = dict(mapping.get(sid) or {})
        entry: dict[str, Any] = _auto(row, target, options, scg8)
        if "fields" in curated:
            entry["fields"] = [field(f) for f in curated.pop("fields")]
        if "unmanaged" in curated:
            category, reason = curated.pop("unmanaged")
            entry = {k: v for k, v in entry.items() if k != "fields"}
            entry["unmanaged"] = {"category": category, "reason": reason}
        entry.update(curated)
        if not entry.get("fields") and not entry.get("unmanaged"):
            if target == "vcenter":
                entry["unmanaged"] = {"category": "vcenter", "reason": (
                    f"vcenter: vCenter-level setting ({row['Setting Location'].strip()}) that VCenterSecurityPolicy "
                    "does not manage")}
            else:
                problems.append(f"{sid}: no mapping (add it to {MAPPING.relative_to(ROOT)})")
                continue
        for ref in entry.get("fields") or []:
            if ref["type"] == "HostSystem" and ref["path"].startswith("advancedSettings."):
                key = ref["path"].split(".", 1)[1]
                if not set(aliases.names(key)) & options:  # the simulator models one spelling
                    problems.append(f"{sid}: advanced option {key} is not modelled in sim/options.go")
        unknown = [r for r in entry.get("replaces") or [] if r not in scg8_ids]
        if unknown:
            problems.append(f"{sid}: replaces unknown catalog id(s) {', '.join(unknown)}")
        scg_default = row["Baseline Suggested Value"].strip()
        out.append({
            "id": sid,
            "title": " ".join(row["Description/Title"].split()),
            "guide": "scg-9",
            "scg": [sid],
            "stig": split_ids(row["DISA STIG ID"]),
            "nist": split_ids(row["NIST 800-53R5 ID"]),
            "pci": split_ids(row["PCI DSS 4.0.1 ID"]),
            "scf": split_ids(row["Secure Controls Framework ID"]),
            "component": row["Component Name"].strip(),
            "target": target,
            "mechanism": entry.get("mechanism", "host-advanced-option" if target == "host" and entry.get("fields")
                                   and entry["fields"][0]["path"].startswith("advancedSettings.") else ""),
            "setting": row["Configuration Parameter"].strip(),
            "desired": str(entry.get("desired", scg_default)),
            "suggested": scg_default,
            "default_value": row["Installation Default Value"].strip(),
            "is_default": row["Is the Default?"].strip().upper() == "YES",
            "action": row["Action Needed"].strip(),
            "location": row["Setting Location"].strip(),
            **({"stig_value": str(entry["stig_value"])} if entry.get("stig_value") is not None else {}),
            "impact": entry.get("impact", "none"),
            "scg_priority": row["Implementation Priority"].strip(),
            "default_enabled": entry.get("default_enabled", "Upon Feature Enablement" not in row["Implementation Priority"]),
            "site_specific": list(entry.get("site_specific") or []),
            "replaces": list(entry.get("replaces") or []),
            "powercli_check": row["PowerCLI Command Assessment"].strip(),
            "powercli_fix": row["PowerCLI Command Remediation"].strip(),
            "functional_impact": " ".join(row["Potential Functional Impact if Default Value is Changed"].split()),
            **({"fields": entry["fields"]} if entry.get("fields") else {"unmanaged": entry["unmanaged"]}),
        })
    if problems:
        raise SystemExit("import_scg9: " + "\n  ".join(["cannot import:", *problems]))
    return out


def render(csv_path: Path) -> str:
    with csv_path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    mapping = (yaml.safe_load(MAPPING.read_text(encoding="utf-8")) or {})["rows"]
    unknown = sorted(set(mapping) - {r["SCG ID"].strip() for r in rows})
    if unknown:
        raise SystemExit(f"import_scg9: {MAPPING.name} names rows the CSV does not have: {', '.join(unknown)}")
    scg8_ids = {c["id"] for c in yaml.safe_load(SCG8.read_text(encoding="utf-8"))["controls"]}
    controls = convert(rows, mapping, sim_option_keys(), scg8_by_setting(), scg8_ids)
    header = ("# vsr control catalog: VMware Cloud Foundation 9.1 Security Configuration Guide (ESX, VM, guest and\n"
              "# vCenter rows), mapped to DISA VCF 9 STIG, NIST 800-53r5 and PCI DSS 4.0.1, linked to the SCG 8 / STIG\n"
              "# V2R3 controls of controls.yaml they replace or equal (`replaces`).\n"
              "# GENERATED by scripts/import_scg9.py from the SCG 9.1 controls CSV and scripts/scg9_mapping.yaml:\n"
              "# do not edit by hand, edit the mapping and re-run the script.\n")
    body = yaml.safe_dump({"schema_version": 1, "controls": controls}, sort_keys=False, allow_unicode=True,
                          width=120)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="the SCG 9.1 controls CSV")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {OUTPUT.name} is stale")
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        print(f"import_scg9: {args.csv}: no such file; {CSV_ENV_HINT}", file=sys.stderr)
        return 1
    text = render(args.csv)
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python scripts/import_scg9.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({text.count(chr(10) + '- id: ')} controls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
