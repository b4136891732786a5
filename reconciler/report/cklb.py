"""`vsr report -o cklb`: STIG Viewer 3 checklists (JSON, `cklb_version` 1.0), one per host / VM (a CKLB has one
`target_data`), each with `stigs[].rules[]` (see checklist.py for how statuses, finding details and comments are
filled)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.report import checklist
from reconciler.report.model import Report


def _rule(rule: checklist.Rule, stig: checklist.Stig, when: str) -> dict[str, Any]:
    bench = stig.benchmark
    return {
        "uuid": rule.uuid, "stig_uuid": stig.uuid, "target_key": None, "stig_ref": None,
        "group_id": rule.stig_id, "group_id_src": rule.stig_id, "rule_id": rule.stig_id, "rule_id_src": rule.stig_id,
        "weight": "10.0", "classification": "UNCLASSIFIED", "severity": "unknown", "rule_version": rule.stig_id,
        "rule_title": rule.title, "fix_text": rule.fix_text, "reference_identifier": None,
        "group_title": rule.title, "false_positives": "", "false_negatives": "", "discussion": rule.discussion,
        "check_content": rule.check_content, "documentable": "false", "mitigations": "", "potential_impacts": "",
        "third_party_tools": "", "mitigation_control": "", "responsibility": "", "security_override_guidance": "",
        "ia_controls": rule.ia_controls, "check_content_ref": {"href": bench.stig_id, "name": "M"},
        "legacy_ids": [], "ccis": [],
        "group_tree": [{"id": rule.stig_id, "title": rule.title, "description": ""}],
        "createdAt": when, "updatedAt": when, "STIGUuid": stig.uuid,
        "status": rule.status, "overrides": {}, "comments": rule.comments, "finding_details": rule.finding_details,
    }


def document(item: checklist.Checklist, report: Report) -> dict[str, Any]:
    when = report.generated.isoformat(timespec="seconds")
    o = item.object
    return {
        "title": f"{o.name} ({o.type}, vCenter {o.vcenter})",
        "id": item.uuid,
        "stigs": [{"stig_name": s.benchmark.title, "display_name": s.benchmark.display, "stig_id": s.benchmark.stig_id,
                   "release_info": s.benchmark.release_info, "version": s.benchmark.version, "uuid": s.uuid,
                   "reference_identifier": None, "size": len(s.rules),
                   "rules": [_rule(r, s, when) for r in s.rules]} for s in item.stigs],
        "active": False,
        "mode": 1,
        "has_path": True,
        "target_data": {"target_type": "Computing", "host_name": o.name, "ip_address": "", "mac_address": "",
                        "fqdn": "", "comments": f"vsr {report.version} report of {when}: {o.type} {o.moid} in vCenter "
                                                f"{o.vcenter}" + (f", cluster {item.cluster}" if item.cluster else ""),
                        "role": "None", "is_web_database": False, "technology_area": "", "web_db_site": "",
                        "web_db_instance": ""},
        "cklb_version": "1.0",
    }


def render_all(report: Report, stig_filters: Any = ()) -> list[tuple[str, str]]:
    """(file name, content) per checklist."""
    return [(f"{c.file_stem}.cklb", json.dumps(document(c, report), indent=2, ensure_ascii=False) + "\n")
            for c in checklist.build(report, stig_filters)]
