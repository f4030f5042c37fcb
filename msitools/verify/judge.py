"""Step 3 of verification: judge every published row, and decide the verdict.

The policy lives here, in one place:

* a row is ``pass`` only when every check was made and agrees; ``mismatch``
  lists each differing field (expected vs found); ``missing`` when no
  delivered file answers it; ``ambiguous`` when the published row itself reads
  several ways; ``unverified`` when a check could not be made (a delta with no
  base, an unreadable cabinet or image, or a row not found while part of the
  delivery could not be read): never ``pass`` for what was not checked;
* signatures (:class:`SignaturePolicy`): a package or payload image altered after
  signing always fails (its row is a mismatch on ``signature``); unsigned ones and
  chains that reach no trusted root fail only when signatures are required; an
  expected signer must have signed every signed one;
* the verdict is ``pass`` when every row passes, there is at least one row,
  nothing is unlisted (unless allowed) and no signature finding stands.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from msitools.kb import NOT_APPLICABLE, PublishedRow
from msitools.pe.trust import (
    ALTERED,
    CATALOG_LISTED,
    CATALOG_SIGNED,
    INTACT,
    NOT_CHECKED,
    SIGNED_UNTRUSTED,
    SIGNED_UNVERIFIABLE,
    SIGNED_VALID,
    UNREADABLE,
    UNSIGNED,
    package_status,
)
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


@dataclass(frozen=True)
class SignaturePolicy:
    """What verification asks of signatures.

    Always: a package or payload image signed but altered after signing (or listed by a
    catalog with another hash), or whose signature cannot be read, fails.  With
    *require*: every package and payload image must be signed (directly or through a
    catalog) with an intact signature whose chain reaches a trusted root.  With
    *expect_signers*: every signed one must be signed by a certificate whose subject
    contains one of these texts.
    """

    require: bool = False
    expect_signers: tuple[str, ...] = ()


def _signer(sig: dict[str, Any]) -> str:
    signer = sig.get("signer")
    if isinstance(signer, dict):
        return str(signer.get("subject") or "")
    return str(signer or "")


def signature_problem(sig: dict[str, Any] | None, policy: SignaturePolicy, package: bool) -> str | None:
    """Why a signature (of a package or a payload file) fails the policy, or None."""
    if sig is None:
        return None  # not a PE image, nor a file a catalog names
    status = sig.get("status") or package_status(sig)
    what = "package" if package else "payload"
    if status in ALTERED:
        return f"{what} altered after signing"
    if status == UNREADABLE:
        return f"{what} signature unreadable"
    if policy.require:
        if status == UNSIGNED:
            return f"unsigned {what}"
        if status == NOT_CHECKED:
            return f"{what} signature not checked"
        if status == CATALOG_SIGNED and sig.get("catalog_status") != SIGNED_VALID:
            return f"{what} signed through a catalog whose chain is not trusted"
        if status == CATALOG_LISTED:
            return f"{what} named by a signed manifest whose hash cannot be checked"
        if status in (SIGNED_UNTRUSTED, SIGNED_UNVERIFIABLE):
            return f"{what} signature chain not trusted"
    if policy.expect_signers and status in (*INTACT, CATALOG_SIGNED):
        signer = _signer(sig)
        if not any(text.lower() in signer.lower() for text in policy.expect_signers):
            return f"{what} signed by {signer or 'an unknown signer'}, not by " + " or ".join(policy.expect_signers)
    return None


def judge_with_signature(status: Status, found: list[Difference], f: DeliveredFile | None,
                         policy: SignaturePolicy) -> tuple[Status, list[Difference]]:
    """A row whose file's signature fails the policy becomes a mismatch on ``signature``."""
    if f is None or status not in (Status.PASS, Status.MISMATCH, Status.UNVERIFIED):
        return status, found
    problem = signature_problem(f.signature, policy, f.kind == "package")
    if problem is None:
        return status, found
    expected = "signed, digest intact" + (", chain trusted" if policy.require else "")
    return Status.MISMATCH, [*found, Difference("signature", expected, problem)]


@dataclass(frozen=True)
class SignatureFailure:
    """A package or payload file whose signature fails the policy."""

    where: str  # "hotfix.msi > hotfix.cab > x.msp"
    problem: str  # "package altered after signing", "unsigned payload" ...
    reason: str  # the signature check's own words
    package: bool

    @property
    def short(self) -> str:
        return f"{self.problem}: {self.where.rsplit(' > ', 1)[-1]}"

    def __str__(self) -> str:
        if self.problem == "unsigned package":
            return f"{self.where}: unsigned ({self.reason})"
        if self.problem == "package altered after signing":
            return f"{self.where}: altered after signing ({self.reason})"
        return f"{self.where}: {self.problem} ({self.reason})"


def signature_failures(packages: list[dict[str, Any]], files: list[DeliveredFile],
                       policy: SignaturePolicy) -> list[SignatureFailure]:
    """Every package and payload file whose signature fails the policy, packages first."""
    out = []
    for sig in packages:
        problem = signature_problem(sig, policy, True)
        if problem is not None:
            out.append(SignatureFailure(sig["package"], problem, str(sig.get("reason")), True))
    for f in files:
        if f.kind == "package":
            continue  # its signature is among the packages
        problem = signature_problem(f.signature, policy, False)
        if problem is not None:
            out.append(SignatureFailure(" > ".join(f.found_in), problem, str((f.signature or {}).get("reason")),
                                        False))
    return out


def verdict_reasons(statuses: list[Status], unlisted: int, allow_unlisted: bool,
                    failures: list[SignatureFailure]) -> list[str]:
    """Why the verdict is what it is, most serious first (empty when it passes)."""
    reasons = [f.short for f in failures]
    for status in (Status.MISMATCH, Status.MISSING, Status.UNVERIFIED, Status.AMBIGUOUS):
        count = sum(1 for s in statuses if s == status)
        if count:
            reasons.append(f"{count} {status.value}")
    if unlisted and not allow_unlisted:
        reasons.append(f"{unlisted} unlisted")
    if not statuses:
        reasons.append("no published row to check")
    return reasons


def verdict(statuses: list[Status], unlisted: int, allow_unlisted: bool, failures: list[SignatureFailure]) -> str:
    """``pass`` or ``fail`` (see the module documentation)."""
    passed = bool(statuses) and all(s == Status.PASS for s in statuses)
    return "pass" if passed and (allow_unlisted or not unlisted) and not failures else "fail"
