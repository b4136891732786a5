"""The published structure of STIG Viewer checklists, for the tests: CKLB 1.0 (STIG Viewer 3 JSON) as a JSON
Schema of its fields and types (DISA's checklist schema: root, target_data, stigs[], rules[]) and the STIG_DATA
attributes of a STIG Viewer 2 CKL VULN."""

from __future__ import annotations

_S = {"type": "string"}
_S_OR_NULL = {"type": ["string", "null"]}
RULE_FIELDS = {
    "uuid": _S, "stig_uuid": _S, "target_key": _S_OR_NULL, "stig_ref": _S_OR_NULL, "group_id": _S,
    "group_id_src": _S, "rule_id": _S, "rule_id_src": _S, "weight": _S, "classification": _S, "severity": _S,
    "rule_version": _S, "rule_title": _S, "fix_text": _S, "reference_identifier": _S_OR_NULL, "group_title": _S,
    "false_positives": _S, "false_negatives": _S, "discussion": _S, "check_content": _S_OR_NULL,
    "documentable": _S, "mitigations": _S, "potential_impacts": _S, "third_party_tools": _S,
    "mitigation_control": _S, "responsibility": _S, "security_override_guidance": _S, "ia_controls": _S,
    "check_content_ref": {"type": ["object", "null"], "properties": {"name": _S, "href": _S}},
    "legacy_ids": {"type": "array", "items": _S}, "ccis": {"type": "array", "items": _S},
    "group_tree": {"type": "array", "items": {"type": "object",
                                              "properties": {"id": _S, "title": _S, "description": _S}}},
    "createdAt": _S, "updatedAt": _S, "STIGUuid": _S,
    "status": {"type": "string", "enum": ["not_reviewed", "not_a_finding", "open", "not_applicable"]},
    "overrides": {"type": "object"}, "comments": _S, "finding_details": _S,
}
TARGET_FIELDS = {"target_type": _S, "host_name": _S, "ip_address": _S, "mac_address": _S, "fqdn": _S,
                 "comments": _S, "role": _S, "is_web_database": {"type": "boolean"}, "technology_area": _S,
                 "web_db_site": _S, "web_db_instance": _S}
#: the CKLB 1.0 structure STIG Viewer 3 reads and writes (DISA's published checklist schema)
CKLB_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "required": ["title", "id", "stigs", "active", "mode", "has_path", "target_data", "cklb_version"],
    "properties": {
        "title": _S, "id": {"type": "string", "format": "uuid"}, "active": {"type": "boolean"},
        "mode": {"type": "integer"}, "has_path": {"type": "boolean"}, "cklb_version": {"const": "1.0"},
        "target_data": {"$ref": "#/$defs/target_data"},
        "stigs": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/stig"}},
    },
    "$defs": {
        "target_data": {"type": "object", "additionalProperties": False, "required": list(TARGET_FIELDS),
                        "properties": TARGET_FIELDS},
        "stig": {"type": "object",
                 "required": ["stig_name", "display_name", "stig_id", "release_info", "uuid", "reference_identifier",
                              "size", "rules"],
                 "properties": {"stig_name": _S, "display_name": _S, "stig_id": _S, "release_info": _S,
                                "version": _S, "uuid": {"type": "string", "format": "uuid"},
                                "reference_identifier": _S_OR_NULL, "size": {"type": "integer"},
                                "rules": {"type": "array", "items": {"$ref": "#/$defs/stig_rule"}}}},
        "stig_rule": {"type": "object", "additionalProperties": False, "required": list(RULE_FIELDS),
                      "properties": RULE_FIELDS},
    },
}
VULN_ATTRIBUTES = ["Vuln_Num", "Severity", "Group_Title", "Rule_ID", "Rule_Ver", "Rule_Title", "Vuln_Discuss",
                   "IA_Controls", "Check_Content", "Fix_Text", "False_Positives", "False_Negatives", "Documentable",
                   "Mitigations", "Potential_Impact", "Third_Party_Tools", "Mitigation_Control", "Responsibility",
                   "Security_Override_Guidance", "Check_Content_Ref", "Weight", "Class", "STIGRef", "TargetKey",
                   "STIG_UUID"]
