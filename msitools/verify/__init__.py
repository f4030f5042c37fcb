"""Verify a hotfix delivery against its published file-information table.

The pipeline, one module per step:

1. :mod:`~msitools.verify.delivery`: walk the delivery (every package, patch and
   cabinet) and record each file's real facts;
2. :mod:`~msitools.verify.pairing`: pair published rows with delivered files;
3. :mod:`~msitools.verify.judge`: judge each row and decide the verdict (the policy);
4. :mod:`~msitools.verify.report`: the :class:`VerifyReport`, whose ``to_dict()``
   is the ``verify`` JSON; the renderers (:mod:`msitools.render.verify`) take it.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, cast

from msitools.base.fsutil import sha256_file
from msitools.base.workers import can_fork, run_shares
from msitools.errors import UsageError
from msitools.findings import Finding, Level
from msitools.kb import PublishedTable, parse_file
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.verify.delivery import DeliveredFile, Delivery, walk_delivery
from msitools.verify.judge import (
    Difference,
    SignaturePolicy,
    Status,
    judge,
    judge_with_signature,
    signature_failures,
    unpublished,
    verdict,
    verdict_reasons,
)
from msitools.verify.pairing import match_rows
from msitools.verify.report import InputFile, RowVerdict, VerifyReport

# a published table this big (bytes) is parsed in a forked process while this one walks the delivery
PARSE_APART_BYTES = 256 << 10

__all__ = ["DeliveredFile", "Delivery", "Difference", "InputFile", "RowVerdict", "Status", "VerifyReport",
           "match_rows", "verify", "walk_delivery"]


def _row_verdicts(published: PublishedTable, delivery: Delivery, policy: SignaturePolicy) -> \
        tuple[list[RowVerdict], set[int]]:
    files = delivery.files
    verdicts, used = [], set()
    for row, (index, why) in zip(published.rows, match_rows(published.rows, files)):
        f = files[index] if index is not None else None
        if index is not None:
            used.add(index)
        status, found = judge(row, f)
        if status == Status.MISSING and delivery.unreadable:
            status = Status.UNVERIFIED  # fail closed: the file may sit in the part that could not be read
        status, found = judge_with_signature(status, found, f, policy)
        reasons: list[str] = []
        if status == Status.UNVERIFIED:
            reasons = (list(f.unverified) + unpublished(row) or ["a check could not be made"]) if f is not None \
                else ["not found, but part of the delivery could not be read: " + "; ".join(delivery.unreadable)]
        verdicts.append(RowVerdict(row, f, status, found, why, reasons))
    return verdicts, used


_PACKAGE_MAGICS = {b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an installer package (MSI, MSP, MST or MSM)",
                   b"MSCF": "a cabinet", b"MZ": "an executable"}


def _kind_of(path: str) -> str | None:
    """What a file is, when it is a package or binary (None for anything else, such as a text table)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    for magic, kind in _PACKAGE_MAGICS.items():
        if head.startswith(magic):
            return kind
    return None


def _published(table: str | os.PathLike[str] | PublishedTable, input_format: str, sections: tuple[str, ...],
               platforms: tuple[str, ...], limits: Limits) -> tuple[PublishedTable, str, set[str]]:
    """The selected rows, the table's path, and the names of the rows left out by the selection."""
    if isinstance(table, PublishedTable):
        published, table_path = table, table.source
    else:
        table_path = os.fspath(table)
        kind = _kind_of(table_path)
        if kind is not None:
            raise UsageError(f"this is {kind}, not a published table; did you swap HOTFIX and --kb?", table_path)
        published = parse_file(table_path, input_format, limits)
    if sections or platforms:
        chosen = published.select(sections, platforms)
        if not chosen.rows:
            what = "; ".join(filter(None, [f"sections {', '.join(map(repr, sections))}" if sections else "",
                                           f"platforms {', '.join(platforms)}" if platforms else ""]))
            titles = "; ".join(dict.fromkeys(s.title for s, _ in published.sections)) or "(untitled)"
            raise UsageError(f"no published row is in the {what} (the table's sections: {titles})", table_path)
        others = {str(r.name).lower() for r in published.rows if r.name} - {str(r.name).lower() for r in chosen.rows
                                                                            if r.name}
        return chosen, table_path, others
    return published, table_path, set()


def _parse_apart(table: str | os.PathLike[str] | PublishedTable) -> bool:
    if isinstance(table, PublishedTable) or not can_fork():
        return False
    try:
        return os.path.getsize(table) >= PARSE_APART_BYTES
    except OSError:
        return False  # parsed here, where the error is reported


def _no_match_advice(rows: list[RowVerdict], delivery: Delivery) -> None:
    if rows and delivery.files and all(r.file is None for r in rows):
        delivery.findings.append(Finding("published table", "no published row matches any delivered file: is this "
                                         "the table for this package?"))


def verify(hotfix: str | os.PathLike[str], table: str | os.PathLike[str] | PublishedTable, *,
           depth: int = 0, allow_unlisted: bool = False, require_signature: bool = False,
           base: str | os.PathLike[str] | None = None, limits: Limits = DEFAULT_LIMITS,
           now: datetime | None = None, sections: tuple[str, ...] | list[str] = (),
           platforms: tuple[str, ...] | list[str] = (), input_format: str = "auto",
           expect_signers: tuple[str, ...] | list[str] = (), trust_store: Any = None) -> VerifyReport:
    """Verify *hotfix* against the published *table* (a path, or a table already parsed).

    *depth*: how many levels of ``.msi`` packages inside the delivery to open
    (patches are always opened).  *base*: the product the patches apply to,
    naming files a patch only updates.  Signatures (:class:`SignaturePolicy`): a
    package or payload image altered after signing always fails; with
    *require_signature* unsigned ones and untrusted chains fail too; with
    *expect_signers* every signed one must name one of them in its signer's subject;
    *trust_store* adds roots (:func:`msitools.pe.trust.trust_store`).  *sections* / *platforms* select the
    published rows (:meth:`PublishedTable.select`); *input_format* is how the
    table is written (``auto`` detects it).  Returns the :class:`VerifyReport`.
    """
    from msitools import __version__

    hotfix = os.fspath(hotfix)

    def read_table() -> tuple[PublishedTable, str, set[str]]:
        return _published(table, input_format, tuple(sections), tuple(platforms), limits)

    def read_delivery() -> Delivery:
        if os.path.isfile(hotfix) and _kind_of(hotfix) is None:
            raise UsageError("this is not a package (a text document?); did you swap HOTFIX and --kb?", hotfix)
        return walk_delivery(hotfix, depth, limits, base=base, trust_store=trust_store)

    if _parse_apart(table):
        # the two inputs are independent: the table is parsed in a forked process while this one walks the
        # delivery; a table that cannot be read is reported first, as when they are read one after the other
        def walked() -> Delivery | BaseException:
            try:
                return read_delivery()
            except Exception as exc:
                return exc

        outcome, parsed = run_shares([walked, read_table])
        if isinstance(outcome, BaseException):
            raise outcome
        delivery = cast(Delivery, outcome)
        published, table_path, left_out = cast("tuple[PublishedTable, str, set[str]]", parsed)
    else:
        published, table_path, left_out = read_table()
        delivery = read_delivery()
    policy = SignaturePolicy(require_signature, tuple(expect_signers))
    rows, used = _row_verdicts(published, delivery, policy)
    _no_match_advice(rows, delivery)
    # a file whose bytes could not be read and whose name is only its File key cannot be named:
    # it is reported under "delivered" and "unreadable", and the rows it may answer are unverified
    unlisted = []
    for j, f in enumerate(delivery.files):
        if j in used or (f.unverified and f.name_source == "File key"):
            continue
        if f.kind == "metadata":  # an .msu's own description
            continue
        if f.opened:  # a package or cabinet whose files were checked one by one: a container, not a file
            delivery.findings.append(Finding(" > ".join(f.found_in), "a container: its files are checked, "
                                                                     "the table need not list it", Level.INFO))
            continue
        if f.name.lower() in left_out:
            delivery.findings.append(Finding(" > ".join(f.found_in), "listed in a section of the table that is not "
                                                                     "selected: not checked", Level.INFO))
            continue
        unlisted.append(f)
    failures = signature_failures(delivery.packages, delivery.files, policy)
    inputs = [
        InputFile("hotfix", hotfix, sha256_file(hotfix), size=os.path.getsize(hotfix)),
        InputFile("published table", table_path, sha256_file(table_path) if os.path.isfile(table_path) else None,
                  format=published.format),
    ]
    return VerifyReport(
        verdict=verdict([r.status for r in rows], len(unlisted), allow_unlisted, failures),
        rows=rows, unlisted=unlisted, delivery=delivery, inputs=inputs, allow_unlisted=allow_unlisted,
        require_signature=require_signature, signature_failures=failures,
        verdict_reasons=verdict_reasons([r.status for r in rows], len(unlisted), allow_unlisted, failures),
        expect_signers=list(expect_signers),
        tool={"name": "msitools", "version": __version__},
        time=(now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"))
