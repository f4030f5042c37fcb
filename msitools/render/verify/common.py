"""What every rendering of the verification report says the same way: values, differences, findings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msitools.pe.trust import signer_subject

if TYPE_CHECKING:
    from msitools.verify.judge import Difference
    from msitools.verify.report import RowVerdict, VerifyReport

STATUS_ORDER = ["pass", "mismatch", "missing", "ambiguous", "unverified"]
PACKAGE_SUFFIXES = (".msi", ".msp", ".msm", ".cab", ".mst", ".exe", ".msu")


def fmt_size(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ("-" if value is None else str(value))


def fmt_value(value: Any) -> str:
    """A difference's value: sizes with group separators, nothing as "-"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "-" if value is None or value == "" else str(value)


def actual_version(r: RowVerdict) -> str:
    f = r.file
    if f is None:
        return "-"
    if f.platform == "Not Applicable" and not f.table_version:
        return "Not Applicable"
    pe, table = f.pe_version, f.table_version
    if pe and table and pe != table:
        return f"{pe} (File table {table})"
    return pe or table or "-"


def found_in(r: RowVerdict) -> str:
    return " > ".join(r.file.found_in) if r.file else ""


def innermost_package(chain: list[str]) -> str:
    """The deepest package or cabinet that holds a file (``Sccm…-x86-enu.msp`` for a patch's file)."""
    for part in reversed(chain[:-1]):
        if part.lower().endswith(PACKAGE_SUFFIXES):
            return part
    return chain[0] if chain else ""


def found_size(r: RowVerdict) -> str:
    return fmt_size(r.file.size if r.file else None)


def _field(name: str) -> str:
    return {"size (bytes)": "size", "size (File table)": "size in the File table",
            "version (PE resource)": "version", "version (File table)": "version in the File table"}.get(name, name)


# a real value and the File table's, folded into one phrase when they differ the same way
_PAIRS = (("size (bytes)", "size (File table)"), ("version (PE resource)", "version (File table)"))


def arrow(d: Difference) -> str:
    """``size 375,656 → 375,657`` (expected → found)."""
    return f"{_field(d.field)} {fmt_value(d.expected)} → {fmt_value(d.actual)}"


def sentence(d: Difference) -> str:
    """``size expected 375,656, found 375,657``."""
    return f"{_field(d.field)} expected {fmt_value(d.expected)}, found {fmt_value(d.actual)}"


def _merged(differences: list[Difference]) -> list[tuple[Difference, bool]]:
    """The differences, a File-table value that differs as the real one does folded into it."""
    by_field = {d.field: d for d in differences}
    folded: set[int] = set()
    merged: set[int] = set()
    for real_name, table_name in _PAIRS:
        real, table = by_field.get(real_name), by_field.get(table_name)
        if real is not None and table is not None and (real.expected, real.actual) == (table.expected, table.actual):
            folded.add(id(table))
            merged.add(id(real))
    return [(d, id(d) in merged) for d in differences if id(d) not in folded]


def what_differs(r: RowVerdict, *, arrows: bool) -> str:
    """For a row that does not pass: what is wrong, in one phrase ("" for a pass)."""
    status = r.status.value
    if status == "mismatch":
        return "; ".join((arrow(d) if arrows else sentence(d)) + (" (the File table too)" if both else "")
                         for d, both in _merged(r.differences))
    if status == "unverified":
        return "not verified: " + "; ".join(r.reasons)
    if status == "missing":
        return "not delivered" + (f" ({r.pairing})" if r.pairing and r.pairing != "not delivered" else "")
    if status == "ambiguous":
        readings = " | ".join(f"{x.get('version')} / {fmt_value(x.get('size'))}"
                              for x in r.row.to_dict().get("readings") or [])
        return "the published row reads several ways: " + readings
    return ""


def detail(r: RowVerdict) -> str:
    """The long form of :func:`what_differs` (kept for the detailed reports)."""
    return what_differs(r, arrows=False)


def row_label(r: RowVerdict) -> str:
    return f"{r.name} ({r.row.platform})" if r.row.platform else str(r.name)


def summary_line(report: VerifyReport) -> str:
    """``Verdict: FAIL — package altered after signing: x.msi; 1 mismatch; 10 pass`` (reasons first)."""
    s = report.summary
    if report.passed:
        parts = [f"{s[k]} {k}" for k in STATUS_ORDER if s.get(k)]
        parts.append(f"{s['unlisted']} unlisted" + (" (allowed)" if report.allow_unlisted else ""))
        return "Verdict: PASS — " + ", ".join(parts)
    reasons = list(report.verdict_reasons) + ([f"{s['pass']} pass"] if s.get("pass") else [])
    return "Verdict: FAIL — " + "; ".join(reasons)


def finding_sentences(report: VerifyReport) -> list[str]:
    """Every reason the verdict fails, one sentence each, most serious first."""
    out = [f"{bad.where.rsplit(' > ', 1)[-1]}: {bad.problem} ({bad.reason})" for bad in report.signature_failures]
    out += [f"{row_label(r)}: {what_differs(r, arrows=False)}" for r in report.rows if r.status.value != "pass"]
    if report.unlisted and not report.allow_unlisted:
        out += [f"{u.name} ({u.platform or 'platform unknown'}, {fmt_size(u.size)} bytes) is delivered in "
                f"{innermost_package(u.found_in)} but not in the published table" for u in report.unlisted]
    out += [f"could not be read: {part}" for part in report.delivery.unreadable]
    if not report.rows:
        out.append("the published table has no row to check")
    return out


_STATE_WORDS = {
    "signed_valid": "signed, intact, chain trusted", "signed_untrusted": "signed, intact, chain NOT trusted",
    "signed_unverifiable": "signed, intact, chain not verifiable offline", "signed_altered": "ALTERED after signing",
    "unsigned": "unsigned", "unreadable": "signature unreadable", "catalog_signed": "catalog-signed",
    "catalog_altered": "ALTERED (catalog hash mismatch)",
    "catalog_listed": "named by a signed manifest (legacy hash, not checked)",
    "not_checked": "signature not checked",
}


def sig_state(sig: dict[str, Any]) -> str:
    status = sig.get("status") or ("unsigned" if not sig.get("signed") else "signed")
    return _STATE_WORDS.get(str(status), str(status))




def signature_lines(report: VerifyReport) -> list[str]:
    """The signatures block: every package, the payload images counted, failing ones and catalogs listed."""
    lines = []
    for sig in report.delivery.packages:
        signer = signer_subject(sig)
        lines.append(f"{sig['package']}: {sig_state(sig)}" + (f", signed by {signer}" if signer else "")
                     + "".join(f"; {w}" for w in sig.get("weaknesses") or []))
    payload = report.payload_signatures()
    if payload:
        counts: dict[str, int] = {}
        for item in payload:
            counts[sig_state(item)] = counts.get(sig_state(item), 0) + 1
        lines.append("payload: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    for catalog in report.delivery.catalogs:
        lines.append(f"catalog {catalog['catalog']}: {sig_state(catalog)}, signed by {catalog.get('signer')}, "
                     f"{catalog.get('members')} members")
    lines += [f"FAIL: {f}" for f in report.signature_failures]
    return lines


def unlisted_version(f: Any) -> str:
    return f.pe_version or f.table_version or ""


def footer(report: VerifyReport) -> str:
    return f"{report.tool.get('name')} {report.tool.get('version')}, {report.time}"


def hotfix_and_table(report: VerifyReport) -> tuple[str, str]:
    """The hotfix's and the published table's file names (for titles)."""
    names = {i.role: i.path.replace("\\", "/").rsplit("/", 1)[-1] for i in report.inputs}
    return names.get("hotfix", "hotfix"), names.get("published table", "published table")


def sections_differ(report: VerifyReport) -> bool:
    return len({r.row.section for r in report.rows}) > 1
