"""Step 4 of verification: the report, a dataclass whose :meth:`VerifyReport.to_dict` is the documented JSON.

One vocabulary: ``version_pe``, ``version_file_table``, ``size_file_table``.  The
``delivered`` and ``unlisted`` entries also carry the old spellings
(``pe_version``, ``file_table_version``, ``file_table_size``) for one release.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from msitools.kb import PublishedRow
from msitools.verify.delivery import DeliveredFile, Delivery
from msitools.verify.judge import STATUS_ORDER, Difference, SignatureFailure, Status


@dataclass
class RowVerdict:
    """One published row, the delivered file paired with it, and the judgement."""

    row: PublishedRow
    file: DeliveredFile | None
    status: Status
    differences: list[Difference] = field(default_factory=list)
    pairing: str = ""
    reasons: list[str] = field(default_factory=list)  # why unverified

    @property
    def name(self) -> str:
        return self.row.name or ""

    def expected_dict(self) -> dict[str, Any]:
        r = self.row
        return {"version": r.version, "size": r.size, "platform": r.platform, "date": r.date, "time": r.time}

    def actual_dict(self) -> dict[str, Any] | None:
        f = self.file
        if f is None:
            return None
        return {"version_pe": f.pe_version, "version_file_table": f.table_version, "size": f.size,
                "size_file_table": f.table_size, "platform": f.platform, "machine": f.machine_hex,
                "date_time": f.date_time}

    def to_dict(self) -> dict[str, Any]:
        f = self.file
        item: dict[str, Any] = {
            "name": self.row.name, "platform": self.row.platform, "section": self.row.section,
            "status": self.status.value, "expected": self.expected_dict(), "actual": self.actual_dict(),
            "differences": [d.to_dict() for d in self.differences],
            "found_in": f.found_in if f else [], "sha256": f.sha256 if f else None,
            "pairing": self.pairing, "line": self.row.line,
        }
        if self.status == Status.UNVERIFIED:
            item["reasons"] = self.reasons
        if self.status == Status.AMBIGUOUS:
            item["readings"] = list(self.row.to_dict().get("readings") or [])
        if f is not None and f.delta:
            item["delta"] = f.delta
        if f is not None and f.signature:
            item["signature"] = f.signature
        return item


@dataclass(frozen=True)
class InputFile:
    """An input of the run: the hotfix or the published table, with its SHA-256."""

    role: str
    path: str
    sha256: str | None
    size: int | None = None
    format: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "path": self.path, "sha256": self.sha256}
        if self.size is not None:
            out["size"] = self.size
        if self.format is not None:
            out["format"] = self.format
        return out


@dataclass
class VerifyReport:
    """The whole verification: verdict, row verdicts, unlisted files, the delivery and the inputs."""

    verdict: str  # "pass" / "fail"
    rows: list[RowVerdict]
    unlisted: list[DeliveredFile]
    delivery: Delivery
    inputs: list[InputFile]
    allow_unlisted: bool = False
    require_signature: bool = False
    signature_failures: list[SignatureFailure] = field(default_factory=list)
    verdict_reasons: list[str] = field(default_factory=list)
    expect_signers: list[str] = field(default_factory=list)
    tool: dict[str, str] = field(default_factory=dict)
    time: str = ""

    def payload_signatures(self) -> list[dict[str, Any]]:
        """Every payload file with a signature (PE images, and files a catalog names)."""
        return [{"file": " > ".join(f.found_in), "name": f.name, **(f.signature or {})}
                for f in self.delivery.files if f.kind != "package" and f.signature]

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def summary(self) -> dict[str, int]:
        """How many rows have each status, and how many files are unlisted."""
        counts = {status.value: 0 for status in STATUS_ORDER}
        for r in self.rows:
            counts[r.status.value] += 1
        return counts | {"unlisted": len(self.unlisted)}

    def to_dict(self) -> dict[str, Any]:
        """The ``verify`` JSON (README, "JSON shapes")."""
        return {
            "verdict": self.verdict,
            "rows": [r.to_dict() for r in self.rows],
            "unlisted": [f.to_dict() for f in self.unlisted],
            "delivered": [f.to_dict() for f in self.delivery.files],
            "issues": self.delivery.issues,
            "unreadable": self.delivery.unreadable,
            "findings": self.delivery.findings_dicts(),
            "inputs": [i.to_dict() for i in self.inputs],
            "summary": self.summary,
            "allow_unlisted": self.allow_unlisted,
            "require_signature": self.require_signature,
            "verdict_reasons": self.verdict_reasons,
            "signatures": self.delivery.packages,
            "payload_signatures": self.payload_signatures(),
            "catalogs": self.delivery.catalogs,
            "signature_findings": [str(f) for f in self.signature_failures],
            "expect_signers": self.expect_signers,
            "tool": self.tool,
            "time": self.time,
        }
