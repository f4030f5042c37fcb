"""JUnit XML for CI: one suite per hotfix, one test case per published row, unlisted file and finding.

The suite is named after the hotfix file, so several hotfixes in one pipeline stay apart;
its properties give the hotfix's and the table's paths and SHA-256.  ``failures`` counts
every failing case, so it is never 0 for a failing run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from msitools.render.verify.common import fmt_size, found_in, hotfix_and_table, innermost_package, what_differs

if TYPE_CHECKING:
    from msitools.verify.report import VerifyReport


def render_junit(report: VerifyReport) -> str:
    hotfix, _table = hotfix_and_table(report)
    suite = ET.Element("testsuite", name=hotfix, timestamp=report.time)
    props = ET.SubElement(suite, "properties")
    for item in report.inputs:
        role = "table" if item.role == "published table" else item.role
        ET.SubElement(props, "property", name=f"{role} path", value=str(item.path))
        ET.SubElement(props, "property", name=f"{role} sha256", value=str(item.sha256))
    ET.SubElement(props, "property", name="verdict", value=report.verdict)
    failures = 0
    for bad in report.signature_failures:
        case = ET.SubElement(suite, "testcase", classname=f"{hotfix}.signatures", name=bad.where)
        ET.SubElement(case, "failure", type="signature", message=f"{bad.where}: {bad.problem}: {bad.reason}")
        failures += 1
    for part in report.delivery.unreadable:
        case = ET.SubElement(suite, "testcase", classname=f"{hotfix}.delivery", name=f"readable: {part}")
        ET.SubElement(case, "failure", type="unreadable", message=f"could not be read: {part}")
        failures += 1
    for r in report.rows:
        case = ET.SubElement(suite, "testcase", classname=f"{hotfix}.{r.row.section or 'published table'}",
                             name=f"{r.name} ({r.row.platform})")
        if r.status.value != "pass":
            failure = ET.SubElement(case, "failure", type=r.status.value,
                                    message=f"{r.name} ({r.row.platform}): {what_differs(r, arrows=False)}")
            failure.text = found_in(r) or r.pairing or ""
            failures += 1
        out = ET.SubElement(case, "system-out")
        out.text = f"found in: {found_in(r)}\nsha256: {r.file.sha256 if r.file else None}\npairing: {r.pairing}"
    for u in report.unlisted:
        case = ET.SubElement(suite, "testcase", classname=f"{hotfix}.unlisted", name=f"{u.name} ({u.platform})")
        message = (f"{u.name} ({u.platform}, {fmt_size(u.size)} bytes) is delivered in "
                   f"{innermost_package(u.found_in)} but not in the published table")
        if report.allow_unlisted:
            ET.SubElement(case, "skipped", message=message + " (allowed)")
        else:
            failure = ET.SubElement(case, "failure", type="unlisted", message=message)
            failure.text = " > ".join(u.found_in)
            failures += 1
    if not report.rows:
        empty = ET.SubElement(suite, "testcase", classname=f"{hotfix}.published table", name="rows to check")
        ET.SubElement(empty, "failure", type="empty", message="the published table has no row to check")
        failures += 1
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
