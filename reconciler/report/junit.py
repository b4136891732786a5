"""`vsr report -o junit`: JUnit XML so CI shows compliance as tests. One <testsuite> per object, one
<testcase> per object x control: <failure> for fail, <skipped> for waived / unsupported / pending (attested
passes, its statement in <system-out>); errors of the
run (spec errors, unreachable vCenters, objects that faulted) are <error> test cases of a "vsr" suite."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from reconciler.report.model import ATTESTED, FAIL, PASS, Report, Row
from reconciler.report.text import short


def _case_name(row: Row) -> str:
    ids = [i for i in row.controls if i != row.control_id]
    return f"{row.control_id}" + (f" [{', '.join(ids)}]" if ids else "") + f": {row.title}"


def _details(row: Row) -> str:
    lines = [f"{f.label}: {f.status}, current {short(f.current)}, desired {short(f.desired)}"
             + (f" ({f.message})" if f.message else "") + (f" from {f.policy} at {f.source}" if f.source else "")
             for f in row.fields]
    return "\n".join(lines)


def _testcase(suite: ET.Element, row: Row) -> None:
    case = ET.SubElement(suite, "testcase", name=_case_name(row),
                         classname=f"vsr.{row.object.type}.{row.object.name}", time="0")
    if row.status == FAIL:
        lead = row.lead
        failure = ET.SubElement(case, "failure", type=lead.reason or "drift",
                                message=f"{lead.label}: current {short(lead.current)}, desired {short(lead.desired)}")
        failure.text = _details(row)
    elif row.status not in (PASS, ATTESTED):
        ET.SubElement(case, "skipped", message=f"{row.status}: {row.message or row.lead.label}")
    out = ET.SubElement(case, "system-out")
    out.text = _details(row)


def render(report: Report) -> str:
    root = ET.Element("testsuites", name="vsr compliance")
    by_object: dict[tuple[str, str, str, str], list[Row]] = defaultdict(list)
    for row in report.rows:
        by_object[(row.object.vcenter, row.object.type, row.object.name, row.object.moid)].append(row)
    total = failures = skipped = errors = 0
    stamp = report.generated.isoformat(timespec="seconds")
    for (vcenter, kind, name, moid), rows in by_object.items():
        fails = sum(r.status == FAIL for r in rows)
        skips = sum(r.status not in (FAIL, PASS, ATTESTED) for r in rows)
        suite = ET.SubElement(root, "testsuite", name=f"{kind} {name} ({vcenter})", tests=str(len(rows)),
                              failures=str(fails), errors="0", skipped=str(skips), time="0", timestamp=stamp,
                              id=f"{vcenter}/{moid}")
        for row in rows:
            _testcase(suite, row)
        total, failures, skipped = total + len(rows), failures + fails, skipped + skips
    if report.errors:
        suite = ET.SubElement(root, "testsuite", name="vsr", tests=str(len(report.errors)), failures="0",
                              errors=str(len(report.errors)), skipped="0", time="0", timestamp=stamp)
        for i, message in enumerate(report.errors, 1):
            case = ET.SubElement(suite, "testcase", name=f"run error {i}", classname="vsr.run", time="0")
            ET.SubElement(case, "error", type="error", message=message).text = message
        total, errors = total + len(report.errors), len(report.errors)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
