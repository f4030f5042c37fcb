"""Verify a hotfix delivery against its published file-information table.

1. **Walk the delivery** (:func:`walk_delivery`): the hotfix package's own files
   (from its File table and cabinets); every ``.msp`` among them (its
   transforms' inserted and updated File rows, and its patch cabinet's bytes);
   a ``.msi`` among them is a file (size, no version) unless ``depth`` asks to
   descend.  For each payload file we record its real size and SHA-256, the
   size and version its File table declares, and — for PE images — the machine
   and the binary version resource.
2. **Match** (:func:`match_rows`): published rows and payload files are paired
   as a whole (an assignment per file name maximising agreeing fields:
   platform, version, size), never by name alone; the pairing is explained.
3. **Judge** every published row: ``pass``, ``mismatch`` (each differing field,
   expected vs actual), ``missing``, ``ambiguous`` (the published row itself has
   several readings), ``unverified`` (a check could not be made: a delta with no
   base, an unreadable cabinet or image) — never ``pass`` for what was not
   checked.  Payload files no row lists are ``unlisted``.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from msitools import __version__
from msitools.container.cfb import CFB_MAGIC
from msitools.patch.delta import is_delta, parse_delta
from msitools.db.directory import long_file_name
from msitools.errors import MsiToolsError, UsageError
from msitools.extract import iter_payload
from msitools.kb import NOT_APPLICABLE, PublishedRow, PublishedTable, parse_file
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.db.package import Package, open_package
from msitools.pe.image import read_pe_info

STATUS_PASS = "pass"
STATUS_MISMATCH = "mismatch"
STATUS_MISSING = "missing"
STATUS_AMBIGUOUS = "ambiguous"
STATUS_UNVERIFIED = "unverified"
SPOOL_IN_MEMORY = 64 << 20


@dataclass
class DeliveredFile:
    """One file the delivery would put on disk (or carries as a package)."""

    name: str  # long file name
    found_in: "list[str]"  # e.g. ["hotfix.msi", "x.msp", "cabinet PCW_CAB", "Tscore.dll"]
    key: "str | None" = None  # File key in its package
    size: "int | None" = None  # real bytes
    table_size: "int | None" = None  # File.FileSize
    table_version: "str | None" = None  # File.Version
    pe_version: "str | None" = None
    platform: "str | None" = None  # x86 / x64 / ... / Not Applicable; None when unknown
    machine: "int | None" = None
    sha256: "str | None" = None
    date_time: "str | None" = None  # cabinet member time (no time zone)
    kind: str = "file"  # file / package / delta
    name_source: str = "File table"  # where the name comes from
    unverified: "list[str]" = field(default_factory=list)  # why some check cannot be made
    notes: "list[str]" = field(default_factory=list)
    delta: "dict | None" = None
    signature: "dict | None" = None  # Authenticode: of the PE image, or of the package
    file_hash: "str | None" = None  # MsiFileHash check: match / mismatch (None: no row)

    def to_dict(self) -> "dict[str, Any]":
        return {
            "name": self.name, "found_in": self.found_in, "key": self.key, "size": self.size,
            "file_table_size": self.table_size, "file_table_version": self.table_version,
            "pe_version": self.pe_version, "platform": self.platform,
            "machine": f"0x{self.machine:04x}" if self.machine is not None else None,
            "sha256": self.sha256, "date_time": self.date_time, "kind": self.kind, "name_source": self.name_source,
            "unverified": self.unverified, "notes": self.notes,
            **({"delta": self.delta} if self.delta else {}),
            **({"signature": self.signature} if self.signature else {}),
            **({"msi_file_hash": self.file_hash} if self.file_hash else {}),
        }


@dataclass
class Delivery:
    files: "list[DeliveredFile]" = field(default_factory=list)
    issues: "list[str]" = field(default_factory=list)
    packages: "list[dict]" = field(default_factory=list)  # the signature of every package opened
    unreadable: "list[str]" = field(default_factory=list)  # parts of the delivery that could not be read
    base_names: "dict[str, str]" = field(default_factory=dict)  # File key -> FileName, from --base


def _package_signature(pkg: Package, chain: "list[str]") -> dict:
    from msitools.pe.authenticode_msi import signature_report

    try:
        report = signature_report(pkg)
    except MsiToolsError as exc:
        report = {"signed": None, "digest_matches": None, "reason": f"signature unreadable: {exc.message}"}
    keep = ("signed", "digest_algorithm", "digest_matches", "trusted", "reason", "signer", "timestamp")
    return {"package": " > ".join(chain), **{k: report.get(k) for k in keep}}


def _pe_signature(data: bytes, name: str) -> dict:
    from msitools.pe.authenticode_pe import pe_signature_status

    try:
        status = pe_signature_status(data, name)
    except MsiToolsError as exc:
        return {"status": "unreadable", "reason": exc.message}
    return {"status": status.status, "reason": status.reason, "signer": status.signer_subject}


def _sha256_and_spool(chunks: Iterable[bytes], limit: int) -> "tuple[str, int, Any]":
    """Hash and keep the bytes (in memory up to *limit*, then in a temporary file)."""
    digest = hashlib.sha256()
    spool = tempfile.SpooledTemporaryFile(max_size=limit)
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        spool.write(chunk)
        size += len(chunk)
    spool.seek(0)
    return digest.hexdigest(), size, spool


def _describe_pe(entry: DeliveredFile, spool, limits: Limits):
    """Platform and version from the bytes (PE images); returns the PeInfo or None."""
    spool.seek(0)
    head = spool.read(2)
    if head != b"MZ":
        entry.platform = NOT_APPLICABLE
        return None
    if entry.size is not None and entry.size > limits.pe_read_size:
        entry.unverified.append(f"PE image larger than the pe_read_size limit ({limits.pe_read_size} bytes)")
        return None
    spool.seek(0)
    data = spool.read()
    try:
        info = read_pe_info(data, entry.name, limits)
    except MsiToolsError as exc:
        entry.unverified.append(f"unreadable PE image: {exc.message}")
        return None
    if info is None:
        entry.platform = NOT_APPLICABLE
        return None
    entry.platform = info.platform
    entry.machine = info.machine
    entry.pe_version = info.file_version
    entry.signature = _pe_signature(data, entry.name)
    if info.file_version is None:
        entry.notes.append("PE image without a version resource")
    return info


def _is_package(spool) -> bool:
    spool.seek(0)
    return spool.read(8) == CFB_MAGIC


def walk_delivery(path: "str | os.PathLike[str]", depth: int = 0, limits: Limits = DEFAULT_LIMITS,
                  base: "str | os.PathLike[str] | None" = None) -> Delivery:
    """Every file the hotfix at *path* delivers, with the facts verification compares.

    *base*: the product the patches apply to; File rows a patch only updates (and so does not
    name) take their FileName from it.
    """
    delivery = Delivery()
    if base is not None:
        with open_package(base, limits) as base_pkg:
            table = base_pkg.get_table("File")
            for rec in (table.records() if table is not None else []):
                if isinstance(rec.get("File"), str) and rec.get("FileName"):
                    delivery.base_names[rec["File"]] = rec["FileName"]
    path = os.fspath(path)
    with open_package(path, limits) as pkg:
        label = os.path.basename(path)
        delivery.packages.append(_package_signature(pkg, [label]))
        if pkg.kind == "msp":
            _walk_msp(pkg, [label], delivery, depth, limits)
        elif pkg.kind in ("msi", "msm"):
            _walk_msi(pkg, [label], delivery, depth, limits)
        else:
            raise UsageError("a transform delivers no files; give the hotfix package (.msi) or patch (.msp)", path)
    return delivery


def _recorded_hashes(pkg: Package) -> "dict[str, tuple]":
    """MsiFileHash rows (unversioned files): File key -> the four recorded parts."""
    table = pkg.get_table("MsiFileHash")
    if table is None:
        return {}
    out = {}
    for rec in table.records():
        if rec.get("File_") and (rec.get("Options") or 0) == 0:
            out[rec["File_"]] = tuple(rec.get(f"HashPart{i}") or 0 for i in range(1, 5))
    return out


def _walk_msi(pkg: Package, chain: "list[str]", delivery: Delivery, depth: int, limits: Limits) -> None:
    from msitools.payload.filehash import file_hash_parts

    hashes = _recorded_hashes(pkg)
    for item in iter_payload(pkg):
        f = item.file
        if item.error is not None:
            delivery.unreadable.append(f"{' > '.join(chain + [f.file_name])}: {item.error}")
        # "hotfix.msi > payload.cab > Name.ext": the cabinet and the file's own name (not its File key)
        where = item.source.split(" > ")[1:-1] or [item.source]
        entry = DeliveredFile(f.file_name, chain + where + [f.file_name], key=f.key,
                              table_size=f.size, table_version=f.version)
        if item.error is not None:
            entry.unverified.append(item.error)
            delivery.files.append(entry)
            continue
        try:
            entry.sha256, entry.size, spool = _sha256_and_spool(item.chunks, SPOOL_IN_MEMORY)
        except MsiToolsError as exc:
            entry.unverified.append(f"bytes unreadable: {exc.message}")
            delivery.unreadable.append(f"{' > '.join(entry.found_in)}: {exc.message}")
            delivery.files.append(entry)
            continue
        if item.member_time is not None:
            entry.date_time = item.member_time.strftime("%Y-%m-%d %H:%M")
        if f.key in hashes:
            spool.seek(0)
            actual = file_hash_parts(iter(lambda: spool.read(1 << 20), b""))
            entry.file_hash = "match" if actual == hashes[f.key] else "mismatch"
        with spool:
            if _is_package(spool):
                entry.kind = "package"
                entry.platform = NOT_APPLICABLE
                _descend(spool, entry, delivery, depth, limits)
            else:
                _describe_pe(entry, spool, limits)
        delivery.files.append(entry)


def _descend(spool, entry: DeliveredFile, delivery: Delivery, depth: int, limits: Limits) -> None:
    spool.seek(0)
    try:
        nested = open_package(spool, limits, name=entry.name)
    except MsiToolsError as exc:
        entry.notes.append(f"looks like a compound file but does not open: {exc.message}")
        delivery.unreadable.append(f"{' > '.join(entry.found_in)}: {exc.message}")
        return
    with nested:
        entry.notes.append(f"a {nested.kind.upper()} package")
        entry.signature = _package_signature(nested, entry.found_in)
        delivery.packages.append(entry.signature)
        if nested.kind == "msp":
            _walk_msp(nested, entry.found_in, delivery, depth, limits)
        elif nested.kind in ("msi", "msm") and depth > 0:
            _walk_msi(nested, entry.found_in, delivery, depth - 1, limits)


def _walk_msp(pkg: Package, chain: "list[str]", delivery: Delivery, depth: int, limits: Limits) -> None:
    from msitools.patch.msp import Msp

    try:
        msp = Msp(pkg)
        changes = [(t, c) for t in msp.transforms for c in t.changes()]
    except MsiToolsError as exc:
        delivery.issues.append(f"{' > '.join(chain)}: patch unreadable: {exc.message}")
        delivery.unreadable.append(f"{' > '.join(chain)}: {exc.message}")
        return
    rows: dict[str, dict[str, Any]] = {}
    for t, change in changes:
        if change.table == "File":
            for rc in change.rows:
                if rc.op in ("insert", "update"):
                    key = rc.key[0] if rc.key else None
                    if not isinstance(key, str):
                        delivery.unreadable.append(f"{' > '.join(chain)} > {t.name} > File: a row has the key "
                                                   f"{key!r}, not a file key")
                        continue
                    rows.setdefault(key, {}).update(rc.values)
            for issue in change.issues:
                delivery.issues.append(f"{' > '.join(chain)} > {t.name} > File: {issue}")
    seen: set[str] = set()
    for stream in msp.cabinet_streams():
        try:
            cab = msp.open_cabinet(stream)
        except MsiToolsError as exc:
            delivery.unreadable.append(f"{' > '.join(chain + [stream])}: {exc.message}")
            for key, values in rows.items():
                if key not in seen:
                    seen.add(key)
                    delivery.files.append(_patch_entry(key, values, chain + [stream],
                                                       f"cabinet unreadable: {exc.message}", delivery.base_names))
            continue
        with cab:
            try:
                for member, chunks in cab.iter_members():
                    values = rows.get(member.name)
                    if values is None:
                        lowered = {k.lower(): k for k in rows}
                        if member.name.lower() in lowered:
                            values = rows[lowered[member.name.lower()]]
                    key = member.name
                    seen.add(key)
                    entry = _patch_entry(key, values or {}, chain + [stream], None, delivery.base_names)
                    entry.found_in.append(entry.name)
                    entry.date_time = member.date_time.strftime("%Y-%m-%d %H:%M") if member.date_time else None
                    if values is None:
                        entry.notes.append("cabinet member with no File row in the patch's transforms")
                        if member.size == 0 and member.name.lower() == "filler":
                            continue  # PatchWiz's placeholder member in registry-only patches
                    try:
                        entry.sha256, entry.size, spool = _sha256_and_spool(chunks, SPOOL_IN_MEMORY)
                    except MsiToolsError as exc:
                        entry.unverified.append(f"bytes unreadable: {exc.message}")
                        delivery.unreadable.append(f"{' > '.join(entry.found_in)}: {exc.message}")
                        delivery.files.append(entry)
                        continue
                    with spool:
                        spool.seek(0)
                        head = spool.read(64 * 1024)
                        if is_delta(head):
                            entry.kind = "delta"
                            try:
                                entry.delta = parse_delta(head, f"{stream} > {member.name}").to_dict()
                            except MsiToolsError as exc:
                                entry.delta = {"error": exc.message}
                            entry.unverified.append("the patch carries a binary delta: the new file's bytes "
                                                    "exist only after applying it to the installed file")
                            entry.size = None
                        else:
                            info = _describe_pe(entry, spool, limits)
                            if entry.name_source == "File key" and info is not None and info.original_filename:
                                # a patch that only updates a File row does not carry its FileName
                                entry.name = info.original_filename
                                entry.name_source = "PE OriginalFilename (the patch does not carry FileName)"
                                entry.found_in[-1] = entry.name
                    delivery.files.append(entry)
            except MsiToolsError as exc:
                delivery.issues.append(f"{' > '.join(chain + [stream])}: {exc}")
                delivery.unreadable.append(f"{' > '.join(chain + [stream])}: {exc.message}")
    for key, values in rows.items():
        if key not in seen:
            delivery.files.append(_patch_entry(key, values, chain, "File row changed by the patch, but its bytes "
                                                                   "are not in the patch cabinet", delivery.base_names))


def _patch_entry(key: str, values: dict, chain: "list[str]", unverified: "str | None",
                 base_names: "dict[str, str] | None" = None) -> DeliveredFile:
    if values.get("FileName"):
        name, source = long_file_name(values["FileName"]), "File table"
    elif base_names and key in base_names:
        name, source = long_file_name(base_names[key]), "base File table (--base)"
    else:
        name, source = key, "File key"
    entry = DeliveredFile(name, list(chain), key=key, table_size=values.get("FileSize"),
                          table_version=values.get("Version"), name_source=source)
    if unverified:
        entry.unverified.append(unverified)
    return entry


# -- matching -------------------------------------------------------------------------------
def _canon_version(value: "str | None") -> str:
    if value is None or value == "" or str(value).lower() in ("not applicable", "n/a"):
        return NOT_APPLICABLE
    return str(value)


def _field_agreement(row: PublishedRow, f: DeliveredFile) -> int:
    score = 0
    if row.platform is not None and f.platform is not None and row.platform.lower() == f.platform.lower():
        score += 1
    if row.version is not None and _canon_version(row.version) == _canon_version(f.pe_version or f.table_version):
        score += 1
    if row.size is not None and row.size in (f.size, f.table_size):
        score += 1
    return score


def _assign(scores: "list[list[int]]") -> "list[int | None]":
    """Maximum-score assignment of rows to files (Hungarian method on the negated scores)."""
    n_rows = len(scores)
    n_cols = len(scores[0]) if scores else 0
    if not n_rows or not n_cols:
        return [None] * n_rows
    n = max(n_rows, n_cols)
    big = max(max(r) for r in scores) + 1
    cost = [[(big - scores[i][j]) if i < n_rows and j < n_cols else big for j in range(n)] for i in range(n)]
    # O(n^3) Hungarian algorithm (potentials), 1-based internally
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    p = [0] * (n + 1)
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    result: list[int | None] = [None] * n_rows
    for j in range(1, n + 1):
        i = p[j] - 1
        if i < n_rows and j - 1 < n_cols:
            result[i] = j - 1
    return result


def match_rows(rows: Sequence[PublishedRow], files: Sequence[DeliveredFile]) -> "list[tuple[int | None, str]]":
    """For each published row: the index of its payload file (or None) and why."""
    by_name: dict[str, list[int]] = {}
    for j, f in enumerate(files):
        by_name.setdefault(f.name.lower(), []).append(j)
    rows_by_name: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        rows_by_name.setdefault((row.name or "").lower(), []).append(i)
    out: list[tuple[int | None, str]] = [(None, "") for _ in rows]
    for name, row_idx in rows_by_name.items():
        candidates = by_name.get(name, [])
        if not candidates:
            for i in row_idx:
                out[i] = (None, "no delivered file has this name")
            continue
        scores = [[_field_agreement(rows[i], files[j]) for j in candidates] for i in row_idx]
        assignment = _assign(scores)
        for k, i in enumerate(row_idx):
            pick = assignment[k]
            if pick is None:
                out[i] = (None, f"{len(candidates)} delivered file(s) named {rows[i].name}, all paired with "
                                f"other published rows")
                continue
            j = candidates[pick]
            agreeing = scores[k][pick]
            if len(candidates) == 1 and len(row_idx) == 1:
                why = "the only delivered file with this name"
            else:
                why = (f"{len(row_idx)} published row(s) and {len(candidates)} delivered file(s) named "
                       f"{rows[i].name}; paired as a whole on platform, version and size "
                       f"({agreeing} of 3 fields agree)")
            out[i] = (j, why)
    return out


# -- judging ------------------------------------------------------------------------------------
def judge(row: PublishedRow, f: "DeliveredFile | None") -> "tuple[str, list[dict]]":
    if row.ambiguous:
        return STATUS_AMBIGUOUS, []
    if f is None:
        return STATUS_MISSING, []
    differences = []

    def differ(field_name: str, expected, actual) -> None:
        differences.append({"field": field_name, "expected": expected, "actual": actual})

    expected_version = _canon_version(row.version)
    expected_platform = row.platform or NOT_APPLICABLE
    if f.platform is not None and f.platform.lower() != expected_platform.lower():
        differ("platform", expected_platform, f.platform)
    if f.kind != "delta":
        if f.platform == NOT_APPLICABLE or f.platform is None:
            actual_pe = NOT_APPLICABLE
        else:
            actual_pe = _canon_version(f.pe_version)
        if f.platform is not None and actual_pe != expected_version:
            differ("version (PE resource)", expected_version, actual_pe)
    if f.key is not None and _canon_version(f.table_version) != expected_version:
        differ("version (File table)", expected_version, _canon_version(f.table_version))
    if f.size is not None and f.size != row.size:
        differ("size (bytes)", row.size, f.size)
    if f.file_hash == "mismatch":
        differ("MsiFileHash", "the MD5 the package records", "different bytes")
    if f.table_size is not None and f.table_size != row.size:
        differ("size (File table)", row.size, f.table_size)
    if differences:
        return STATUS_MISMATCH, differences
    if f.unverified or f.platform is None or f.size is None:
        return STATUS_UNVERIFIED, []
    return STATUS_PASS, []


def _signature_problem(f: DeliveredFile) -> "str | None":
    """Why a delivered file fails --require-signature (PE images only), or None."""
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
        return status
    return None


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(hotfix: "str | os.PathLike[str]", table: "str | os.PathLike[str] | PublishedTable", *,
           depth: int = 0, allow_unlisted: bool = False, require_signature: bool = False,
           base: "str | os.PathLike[str] | None" = None, limits: Limits = DEFAULT_LIMITS,
           now: "datetime | None" = None) -> "dict[str, Any]":
    """Verify *hotfix* against the published *table*; returns the report (the ``verify`` JSON).

    With *require_signature*, a row whose PE image is unsigned or altered after signing is a
    mismatch (field ``signature``), and an unsigned or altered package fails the verdict.
    """
    hotfix = os.fspath(hotfix)
    if isinstance(table, PublishedTable):
        published, table_path = table, table.source
    else:
        table_path = os.fspath(table)
        published = parse_file(table_path)
    delivery = walk_delivery(hotfix, depth, limits, base=base)
    files = delivery.files
    pairing = match_rows(published.rows, files)
    used: set[int] = set()
    rows_out = []
    for row, (index, why) in zip(published.rows, pairing):
        f = files[index] if index is not None else None
        if index is not None:
            used.add(index)
        status, differences = judge(row, f)
        if status == STATUS_MISSING and delivery.unreadable:
            # fail closed: the file may sit in the part we could not read
            status = STATUS_UNVERIFIED
        if require_signature and f is not None and status in (STATUS_PASS, STATUS_MISMATCH):
            problem = _signature_problem(f)
            if problem is not None:
                differences = differences + [{"field": "signature", "expected": "signed, digest intact",
                                              "actual": problem}]
                status = STATUS_MISMATCH
        expected = {"version": row.version, "size": row.size, "platform": row.platform, "date": row.date,
                    "time": row.time}
        actual = None
        if f is not None:
            actual = {"version_pe": f.pe_version, "version_file_table": f.table_version, "size": f.size,
                      "size_file_table": f.table_size, "platform": f.platform,
                      "machine": f"0x{f.machine:04x}" if f.machine is not None else None,
                      "date_time": f.date_time}
        item = {
            "name": row.name, "platform": row.platform, "section": row.section, "status": status,
            "expected": expected, "actual": actual, "differences": differences,
            "found_in": f.found_in if f else [], "sha256": f.sha256 if f else None,
            "pairing": why, "line": row.line,
        }
        if status == STATUS_UNVERIFIED:
            if f is not None:
                item["reasons"] = list(f.unverified) or ["a check could not be made"]
            else:
                item["reasons"] = ["not found, but part of the delivery could not be read: "
                                   + "; ".join(delivery.unreadable)]
        if status == STATUS_AMBIGUOUS:
            item["readings"] = [r for r in (row.to_dict().get("readings") or [])]
        if f is not None and f.delta:
            item["delta"] = f.delta
        if f is not None and f.signature:
            item["signature"] = f.signature
        rows_out.append(item)
    # a file whose bytes could not be read and whose name is only its File key cannot be named:
    # it is reported under "delivered" and "unreadable", and the rows it may answer are unverified
    unlisted = [f.to_dict() for j, f in enumerate(files)
                if j not in used and not (f.unverified and f.name_source == "File key")]
    passed = all(r["status"] == STATUS_PASS for r in rows_out)
    signature_findings = []
    if require_signature:
        for sig in delivery.packages:
            if not sig.get("signed"):
                signature_findings.append(f"{sig['package']}: unsigned ({sig.get('reason')})")
            elif not sig.get("digest_matches"):
                signature_findings.append(f"{sig['package']}: altered after signing ({sig.get('reason')})")
    verdict = ("pass" if passed and (allow_unlisted or not unlisted) and rows_out and not signature_findings
               else "fail")
    return {
        "verdict": verdict,
        "rows": rows_out,
        "unlisted": unlisted,
        "delivered": [f.to_dict() for f in files],
        "issues": delivery.issues,
        "unreadable": delivery.unreadable,
        "inputs": [
            {"role": "hotfix", "path": hotfix, "sha256": _sha256_file(hotfix), "size": os.path.getsize(hotfix)},
            {"role": "published table", "path": table_path,
             "sha256": _sha256_file(table_path) if os.path.isfile(table_path) else None,
             "format": published.format},
        ],
        "summary": {status: sum(1 for r in rows_out if r["status"] == status)
                    for status in (STATUS_PASS, STATUS_MISMATCH, STATUS_MISSING, STATUS_AMBIGUOUS,
                                   STATUS_UNVERIFIED)} | {"unlisted": len(unlisted)},
        "allow_unlisted": allow_unlisted,
        "require_signature": require_signature,
        "signatures": delivery.packages,
        "signature_findings": signature_findings,
        "tool": {"name": "msitools", "version": __version__},
        "time": (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }

