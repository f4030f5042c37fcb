"""Step 3 of verification: judge every published row, and decide the verdict.

The policy lives here, in one place:

* a row is ``pass`` only when every check was made and agrees; ``mismatch``
  lists each differing field (expected vs found); ``missing`` when no
  delivered file answers it; ``ambiguous`` when the published row itself reads
  several ways; ``unverified`` when a check could not be made (a delta with no
  base, an unreadable cabinet or image, or a row not found while part of the
  delivery could not be read): never ``pass`` for what was not checked;
* with *require_signature*, an unsigned or altered PE image makes its row a
  mismatch on ``signature``, and an unsigned or altered package fails the
  verdict;
* the verdict is ``pass`` when every row passes, there is at least one row,
  nothing is unlisted (unless allowed) and no signature finding stands.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from msitools.kb import NOT_APPLICABLE, PublishedRow
from msitools.verify.delivery import DeliveredFile
from msitools.verify.pairing import canon_version


class Status(str, enum.Enum):
    """The judgement of one published row."""

    PASS = "pass"
    MISMATCH = "mismatch"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    UNVERIFIED = "unverified"


STATUS_ORDER = list(Status)


@dataclass(frozen=True)
class Difference:
    """One field on which the delivered file differs from the published row."""

    field: str
    expected: Any
    actual: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual}


def _version_differences(row: PublishedRow, f: DeliveredFile) -> list[Difference]:
    if row.version is None:
        return []  # no version published (a blank cell, or no version column)
    expected = canon_version(row.version)
    out = []
    if f.kind != "delta" and f.platform is not None:
        actual_pe = NOT_APPLICABLE if f.platform == NOT_APPLICABLE else canon_version(f.pe_version)
        if actual_pe != expected:
            out.append(Difference("version (PE resource)", expected, actual_pe))
    if f.key is not None and canon_version(f.table_version) != expected:
        out.append(Difference("version (File table)", expected, canon_version(f.table_version)))
    return out


def differences(row: PublishedRow, f: DeliveredFile) -> list[Difference]:
    """Every published field the delivered file contradicts (platform, versions, sizes, MsiFileHash).

    A field the table does not publish (a blank cell, or no such column) is not compared.
    """
    out = []
    if row.platform is not None and f.platform is not None and f.platform.lower() != row.platform.lower():
        out.append(Difference("platform", row.platform, f.platform))
    out.extend(_version_differences(row, f))
    if row.size is not None and f.size is not None and f.size != row.size:
        out.append(Difference("size (bytes)", row.size, f.size))
    if f.file_hash == "mismatch":
        out.append(Difference("MsiFileHash", "the MD5 the package records", "different bytes"))
    if row.size is not None and f.table_size is not None and f.table_size != row.size:
        out.append(Difference("size (File table)", row.size, f.table_size))
    return out


def unpublished(row: PublishedRow) -> list[str]:
    """Cells printed without an exact value (a size in KB, an operating system as platform): checks not made."""
    out = []
    if row.size is None and row.printed.get("size"):
        out.append(f"the published size {row.printed['size']!r} is not an exact byte count")
    return out


def judge(row: PublishedRow, f: DeliveredFile | None) -> tuple[Status, list[Difference]]:
    """The status of one published row against the file paired with it (None: no file)."""
    if row.ambiguous:
        return Status.AMBIGUOUS, []
    if f is None:
        return Status.MISSING, []
    found = differences(row, f)
    if found:
        return Status.MISMATCH, found
    if f.unverified or f.platform is None or f.size is None or unpublished(row):
        return Status.UNVERIFIED, []
    return Status.PASS, []


def signature_problem(f: DeliveredFile) -> str | None:
    """Why a delivered file fails a required signature (packages and PE images), or None."""
    if f.kind == "package":
        sig = f.signature or {}
        if not sig.get("signed"):
            return "unsigned package"
        if not sig.get("digest_matches"):
            return "package altered after signing"
        return None
    if f.signature is None:
        return None  # not a PE image
    status = f.signature.get("status")
    if status in ("unsigned", "signed_altered", "unreadable"):
        return str(status)
    return None


def judge_with_signature(status: Status, found: list[Difference], f: DeliveredFile | None,
                         require_signature: bool) -> tuple[Status, list[Difference]]:
    """With a required signature, a row whose file is unsigned or altered becomes a mismatch on ``signature``."""
    if not require_signature or f is None or status not in (Status.PASS, Status.MISMATCH):
        return status, found
    problem = signature_problem(f)
    if problem is None:
        return status, found
    return Status.MISMATCH, [*found, Difference("signature", "signed, digest intact", problem)]


def package_signature_findings(packages: list[dict[str, Any]], require_signature: bool) -> list[str]:
    """The packages that fail a required signature, each with why."""
    if not require_signature:
        return []
    out = []
    for sig in packages:
        if not sig.get("signed"):
            out.append(f"{sig['package']}: unsigned ({sig.get('reason')})")
        elif not sig.get("digest_matches"):
            out.append(f"{sig['package']}: altered after signing ({sig.get('reason')})")
    return out


def verdict(statuses: list[Status], unlisted: int, allow_unlisted: bool, signature_findings: list[str]) -> str:
    """``pass`` or ``fail`` (see the module documentation)."""
    passed = bool(statuses) and all(s == Status.PASS for s in statuses)
    return "pass" if passed and (allow_unlisted or not unlisted) and not signature_findings else "fail"
