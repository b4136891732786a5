"""`vsr report -o ckl`: STIG Viewer 2 checklists (XML), one per host / VM: CHECKLIST / ASSET / STIGS / iSTIG
(STIG_INFO / SI_DATA, VULN / STIG_DATA, STATUS, FINDING_DETAILS, COMMENTS). Same content as `-o cklb`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from reconciler.report import checklist
from reconciler.report.model import Report

STATUS = {checklist.OPEN: "Open", checklist.NOT_A_FINDING: "NotAFinding", checklist.NOT_APPLICABLE: "Not_Applicable",
          checklist.NOT_REVIEWED: "Not_Reviewed"}


def _text(parent: ET.Element, tag: str, value: str = "") -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = value
    return el


def _asset(root: ET.Element, item: checklist.Checklist, report: Report) -> None:
    o = item.object
    asset = ET.SubElement(root, "ASSET")
    comment = (f"vsr {report.version} report of {report.generated.isoformat(timespec='seconds')}: {o.type} {o.moid} "
               f"in vCenter {o.vcenter}" + (f", cluster {item.cluster}" if item.cluster else ""))
    for tag, value in (("ROLE", "None"), ("ASSET_TYPE", "Computing"), ("MARKING", ""), ("HOST_NAME", o.name),
                       ("HOST_IP", ""), ("HOST_MAC", ""), ("HOST_FQDN", ""), ("TARGET_COMMENT", comment),
                       ("TECH_AREA", ""), ("TARGET_KEY", ""), ("WEB_OR_DATABASE", "false"), ("WEB_DB_SITE", ""),
                       ("WEB_DB_INSTANCE", "")):
        _text(asset, tag, value)


def _vuln(parent: ET.Element, rule: checklist.Rule, stig: checklist.Stig) -> None:
    vuln = ET.SubElement(parent, "VULN")
    bench = stig.benchmark
    for name, value in (("Vuln_Num", rule.stig_id), ("Severity", "unknown"), ("Group_Title", rule.title),
                        ("Rule_ID", rule.stig_id), ("Rule_Ver", rule.stig_id), ("Rule_Title", rule.title),
                        ("Vuln_Discuss", rule.discussion), ("IA_Controls", rule.ia_controls),
                        ("Check_Content", rule.check_content), ("Fix_Text", rule.fix_text), ("False_Positives", ""),
                        ("False_Negatives", ""), ("Documentable", "false"), ("Mitigations", ""),
                        ("Potential_Impact", ""), ("Third_Party_Tools", ""), ("Mitigation_Control", ""),
                        ("Responsibility", ""), ("Security_Override_Guidance", ""), ("Check_Content_Ref", "M"),
                        ("Weight", "10.0"), ("Class", "Unclass"),
                        ("STIGRef", f"{bench.title} :: Version {bench.version}, {bench.release_info}".rstrip(", ")),
                        ("TargetKey", ""), ("STIG_UUID", stig.uuid)):
        data = ET.SubElement(vuln, "STIG_DATA")
        _text(data, "VULN_ATTRIBUTE", name)
        _text(data, "ATTRIBUTE_DATA", value)
    _text(vuln, "STATUS", STATUS[rule.status])
    _text(vuln, "FINDING_DETAILS", rule.finding_details)
    _text(vuln, "COMMENTS", rule.comments)
    _text(vuln, "SEVERITY_OVERRIDE")
    _text(vuln, "SEVERITY_JUSTIFICATION")


def document(item: checklist.Checklist, report: Report) -> ET.Element:
    root = ET.Element("CHECKLIST")
    _asset(root, item, report)
    stigs = ET.SubElement(root, "STIGS")
    for stig in item.stigs:
        istig = ET.SubElement(stigs, "iSTIG")
        info = ET.SubElement(istig, "STIG_INFO")
        b = stig.benchmark
        for name, value in (("version", b.version), ("classification", "UNCLASSIFIED"), ("customname", ""),
                            ("stigid", b.stig_id), ("description", ""), ("filename", f"{b.stig_id}.xml"),
                            ("releaseinfo", b.release_info), ("title", b.title), ("uuid", stig.uuid),
                            ("notice", ""), ("source", "vsr control catalog")):
            si = ET.SubElement(info, "SI_DATA")
            _text(si, "SID_NAME", name)
            _text(si, "SID_DATA", value)
        for rule in stig.rules:
            _vuln(istig, rule, stig)
    return root


def render_all(report: Report, stig_filters: Any = ()) -> list[tuple[str, str]]:
    out = []
    for item in checklist.build(report, stig_filters):
        root = document(item, report)
        ET.indent(root, space="\t")
        text = '<?xml version="1.0" encoding="UTF-8"?>\n<!--vsr checklist-->\n' + ET.tostring(root, encoding="unicode")
        out.append((f"{item.file_stem}.ckl", text + "\n"))
    return out
