"""Step 1 of verification: walk the delivery, and record for each payload file the facts the table is checked against.

The hotfix package's own files (File table and cabinets, through
:mod:`msitools.payload`); every ``.msp`` among them (through
:mod:`msitools.patch.payload`); a ``.msi`` among them is a file (size, no version)
unless *depth* asks to descend.  For each file: its real size and SHA-256, the
size and version its File table declares, and for PE images the machine, the
binary version resource and the Authenticode status.
"""
from __future__ import annotations

import datetime
import functools
import os
from dataclasses import dataclass, field
from typing import Any

from msitools.base.fsutil import read_magic
from msitools.cab.header import SIGNATURE as CAB_MAGIC
from msitools.container.cfb import CFB_MAGIC
from msitools.db.package import Package, open_package
from msitools.errors import MsiToolsError, UsageError
from msitools.findings import Finding, Level, dicts, texts
from msitools.kb import NOT_APPLICABLE
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.patch.payload import BYTES_UNREADABLE
from msitools.payload.catalogs import CatalogCollector, has_catalogs
from msitools.payload.files import list_package_files
from msitools.payload.items import KIND_DELTA, KIND_EMPTY, NAME_KEY, PayloadItem
from msitools.payload.package import iter_package_payload
from msitools.payload.spool import Spool
from msitools.pe.image import PeInfo, read_pe_info
from msitools.pe.trust import CATALOG_ALTERED, UNSIGNED

DELTA_UNVERIFIED = ("the patch carries a binary delta: the new file's bytes exist only after applying it to the "
                    "installed file")


@dataclass
class DeliveredFile:
    """One file the delivery would put on disk (or carries as a package)."""

    name: str  # long file name
    found_in: list[str]  # e.g. ["hotfix.msi", "x.msp", "PCW_CAB", "Tscore.dll"]
    key: str | None = None  # File key in its package
    size: int | None = None  # real bytes
    table_size: int | None = None  # File.FileSize
    table_version: str | None = None  # File.Version
    pe_version: str | None = None
    platform: str | None = None  # x86 / x64 / ... / Not Applicable; None when unknown
    machine: int | None = None
    sha256: str | None = None
    date_time: str | None = None  # cabinet member time (no time zone)
    kind: str = "file"  # file / package / delta
    opened: bool = False  # a package or cabinet whose own files were walked (then a container, not a file)
    name_source: str = "File table"  # where the name comes from
    findings: list[Finding] = field(default_factory=list)  # error: a check cannot be made; info: a note
    delta: dict[str, Any] | None = None
    signature: dict[str, Any] | None = None  # Authenticode: of the PE image, or of the package
    file_hash: str | None = None  # MsiFileHash check: match / mismatch (None: no row)

    @property
    def unverified(self) -> list[str]:
        """Why some check cannot be made (the error findings)."""
        if not self.findings:
            return []
        return texts([f for f in self.findings if f.level == Level.ERROR])

    @property
    def notes(self) -> list[str]:
        return texts([f for f in self.findings if f.level != Level.ERROR])

    def cannot(self, why: str) -> None:
        """Record a check that cannot be made (the file will not pass)."""
        self.findings.append(Finding("", why, Level.ERROR))

    def note(self, text: str) -> None:
        self.findings.append(Finding("", text, Level.INFO))

    @property
    def machine_hex(self) -> str | None:
        return f"0x{self.machine:04x}" if self.machine is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The ``delivered``/``unlisted`` entry (old key names kept beside the new ones, see the README)."""
        return {
            "name": self.name, "found_in": self.found_in, "key": self.key, "size": self.size,
            "size_file_table": self.table_size, "version_file_table": self.table_version,
            "version_pe": self.pe_version,
            "file_table_size": self.table_size, "file_table_version": self.table_version,
            "pe_version": self.pe_version, "platform": self.platform, "machine": self.machine_hex,
            "sha256": self.sha256, "date_time": self.date_time, "kind": self.kind, "name_source": self.name_source,
            "unverified": self.unverified, "notes": self.notes,
            **({"delta": self.delta} if self.delta else {}),
            **({"signature": self.signature} if self.signature else {}),
            **({"msi_file_hash": self.file_hash} if self.file_hash else {}),
        }


@dataclass
class Delivery:
    """Everything a hotfix delivers, the signature of every package opened, and what could not be read."""

    files: list[DeliveredFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # error: a part that could not be read
    packages: list[dict[str, Any]] = field(default_factory=list)  # the signature of every package opened
    catalogs: list[dict[str, Any]] = field(default_factory=list)  # every catalog delivered, and its signature
    base_names: dict[str, str] = field(default_factory=dict)  # File key -> FileName, from a base package

    @property
    def issues(self) -> list[str]:
        return texts([f for f in self.findings if f.level != Level.ERROR])

    @property
    def unreadable(self) -> list[str]:
        """Parts of the delivery that could not be read (verification fails closed on them)."""
        return texts([f for f in self.findings if f.level == Level.ERROR])

    def findings_dicts(self) -> list[dict[str, Any]]:
        return dicts(self.findings)

    def unreadable_part(self, where: list[str], message: str) -> None:
        self.findings.append(Finding(" > ".join(where), message, Level.ERROR))


SIGNATURE_KEYS = ("signed", "digest_algorithm", "digest_matches", "trusted", "reason", "signer", "timestamp",
                  "status", "weaknesses")


def package_signature(pkg: Package, chain: list[str], trust_store: Any = None) -> dict[str, Any]:
    """The package's Authenticode status as the verify report lists it."""
    from msitools.pe.authenticode_msi import safe_signature_report  # signify is loaded only when needed

    report = safe_signature_report(pkg, trust_store)
    return {"package": " > ".join(chain), **{k: report.get(k) for k in SIGNATURE_KEYS}}


@functools.lru_cache(maxsize=1024)
def _minute_text(when: datetime.datetime) -> str:
    """A cabinet member's date and time as printed in reports (the files of a cabinet share a few)."""
    return when.strftime("%Y-%m-%d %H:%M")


def _describe_pe(entry: DeliveredFile, spool: Spool, limits: Limits, trust_store: Any = None) -> PeInfo | None:
    """Platform, version and signature from the bytes (PE images); returns the PeInfo or None."""
    from msitools.pe.authenticode_pe import signature_summary

    if spool.head(2) != b"MZ":
        entry.platform = NOT_APPLICABLE
        return None
    if spool.size > limits.pe_read_size:
        entry.cannot(f"PE image larger than the pe_read_size limit ({limits.pe_read_size} bytes)")
        return None
    data = spool.read(limits.pe_read_size)
    try:
        info = read_pe_info(data, entry.name, limits)
    except MsiToolsError as exc:
        entry.cannot(f"unreadable PE image: {exc.message}")
        return None
    if info is None:
        entry.platform = NOT_APPLICABLE
        return None
    entry.platform = info.platform
    entry.machine = info.machine
    entry.pe_version = info.file_version
    entry.signature = signature_summary(data, entry.name, limits, trust_store)
    if info.file_version is None:
        entry.note("PE image without a version resource")
    return info


def walk_delivery(path: str | os.PathLike[str], depth: int = 0, limits: Limits = DEFAULT_LIMITS,
                  base: str | os.PathLike[str] | None = None, trust_store: Any = None) -> Delivery:
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
    magic = read_magic(path)
    if magic[:4] == CAB_MAGIC or magic[:2] == b"MZ":
        _Walker(delivery, limits, trust_store).members(path, depth)
        return delivery
    with open_package(path, limits) as pkg:
        if pkg.kind == "mst":
            raise UsageError("a transform delivers no files; give the hotfix package (.msi) or patch (.msp)", path)
        _Walker(delivery, limits, trust_store).package(pkg, [os.path.basename(path)], depth)
    return delivery


def msu_metadata(member: str) -> bool:
    """Members of an .msu that describe the update rather than deliver it: its .xml, its
    pkgProperties text and the WSUSSCAN.cab applicability data."""
    lowered = member.lower()
    return "/" not in lowered.replace("\\", "/") and (lowered.endswith(".xml") or lowered.endswith(
        "-pkgproperties.txt") or lowered == "wsusscan.cab")


def _express(member: str) -> str | None:
    """Why an update's member is express (delta) payload, or None: PSF files, and files under the
    ``r`` (reverse) and ``f`` (forward) delta folders of a component."""
    parts = [p.lower() for p in member.replace("\\", "/").split("/")]
    if parts[-1].endswith(".psf"):
        return "express payload (a PSF file of deltas): the files exist only after it is applied"
    if any(p in ("r", "f") for p in parts[:-1]):
        return "express payload (a delta under an r or f folder): the file exists only after it is applied"
    return None


def _recorded_hashes(pkg: Package) -> dict[str, tuple[int, ...]]:
    """MsiFileHash rows (unversioned files): File key -> the four recorded parts."""
    table = pkg.get_table("MsiFileHash")
    if table is None:
        return {}
    out = {}
    for rec in table.records():
        if rec.get("File_") and (rec.get("Options") or 0) == 0:
            out[rec["File_"]] = tuple(rec.get(f"HashPart{i}") or 0 for i in range(1, 5))
    return out


class _Walker:
    """Walks packages into a :class:`Delivery`, descending into patches (always) and packages (*depth*)."""

    def __init__(self, delivery: Delivery, limits: Limits, trust_store: Any = None):
        self.delivery = delivery
        self.limits = limits
        self.trust_store = trust_store

    def package(self, pkg: Package, chain: list[str], depth: int) -> None:
        """Record *pkg*'s signature and walk its payload."""
        self.delivery.packages.append(package_signature(pkg, chain, self.trust_store))
        if pkg.kind == "msp":
            self._patch(pkg, chain, depth)
        elif pkg.kind in ("msi", "msm"):
            self._database(pkg, chain, depth)

    def members(self, path: str, depth: int) -> None:
        """Walk a bare cabinet (and the rest of its set) or an executable container member by member;
        a plain PE image is itself the one file delivered."""
        from msitools.payload.containers import open_members
        from msitools.payload.exe import KIND_PE

        name = os.path.basename(path)
        with open_members(path, limits=self.limits) as walk:
            own = walk.own_signature(self.trust_store)
            self.delivery.packages.append({"package": name, **own})
            if walk.kind == KIND_PE:
                self._plain_image(path, name)
                return
            outer = [] if walk.kind in ("cab", "msu") else [name]
            self._walk_items(walk, outer, depth)

    def _plain_image(self, path: str, name: str) -> None:
        from msitools.base.fsutil import read_file_chunks

        entry = DeliveredFile(name, [name])
        spool = Spool(read_file_chunks(path))
        with spool:
            entry.sha256, entry.size = spool.sha256, spool.size
            _describe_pe(entry, spool, self.limits, self.trust_store)
        self.delivery.files.append(entry)

    def _walk_items(self, walk: Any, outer: list[str], depth: int) -> None:
        names = [m.name for m in walk.members] if hasattr(walk, "members") else [e["name"] for e in walk.listing()]
        catalogs = CatalogCollector(self.trust_store, self.limits) if has_catalogs(names) else None
        entries: dict[int, DeliveredFile] = {}
        for item in walk:
            name = item.name.replace("\\", "/").rsplit("/", 1)[-1]
            entry = DeliveredFile(name, outer + list(item.found_in))  # a member has no File row
            member = item.found_in[-1] if item.found_in else item.name
            if walk.kind == "msu" and msu_metadata(member):
                entry.kind = "metadata"
                entry.note("the update's own description (read by Windows Update), not a file it installs")
                if self._spooled(entry, item) is not None:
                    item.close()
                entries[id(entry)] = entry
                self.delivery.files.append(entry)
                continue
            express = _express(member)
            if express:
                entry.kind = "delta"
                entry.cannot(express)
            self._database_item(item, entry, outer + item.found_in[:1], {}, depth, catalogs)
            if express:
                entry.size = None  # the delta's own size says nothing of the file's
            entries[id(entry)] = entry
            self.delivery.files.append(entry)
        self.delivery.findings.extend(walk.findings)
        if catalogs is not None:
            self._catalog_signatures(catalogs, entries)

    def _nested_cabinet(self, spool: Spool, entry: DeliveredFile, depth: int) -> None:
        """A cabinet inside the delivery (an .msu's update cabinet): its members are delivered files too."""
        from msitools.payload.cabinet import CabinetPayload

        try:
            walk = CabinetPayload(entry.name, fileobj=spool.fileobj(), label=entry.name, limits=self.limits)
        except MsiToolsError as exc:
            entry.note(f"looks like a cabinet but does not open: {exc.message}")
            self.delivery.unreadable_part(entry.found_in, exc.message)
            return
        with walk:
            entry.note("a cabinet")
            entry.opened = True
            self._walk_items(walk, entry.found_in[:-1], depth)

    def _spooled(self, entry: DeliveredFile, item: PayloadItem) -> Spool | None:
        """The item's bytes, hashed; None (and the file marked) when they cannot be read."""
        try:
            spool = item.spool()
        except MsiToolsError as exc:
            entry.cannot(f"bytes unreadable: {exc.message}")
            self.delivery.unreadable_part(entry.found_in, exc.message)
            return None
        entry.sha256, entry.size = spool.sha256, spool.size
        if item.date_time is not None:
            entry.date_time = _minute_text(item.date_time)
        return spool

    def _database(self, pkg: Package, chain: list[str], depth: int) -> None:
        hashes = _recorded_hashes(pkg)
        listing = list_package_files(pkg)
        catalogs = CatalogCollector(self.trust_store, self.limits) \
            if has_catalogs([f.file_name for f in listing.files]) else None
        entries: dict[int, DeliveredFile] = {}
        for item in iter_package_payload(pkg, listing=listing):
            entry = DeliveredFile(item.name, chain + item.found_in, key=item.key, table_size=item.table_size,
                                  table_version=item.table_version)
            self._database_item(item, entry, chain, hashes, depth, catalogs)
            entries[id(entry)] = entry
            self.delivery.files.append(entry)  # after the files of a package inside it
        if catalogs is not None:
            self._catalog_signatures(catalogs, entries)

    def _catalog_signatures(self, catalogs: CatalogCollector, entries: dict[int, DeliveredFile]) -> None:
        self.delivery.findings.extend(catalogs.findings)
        self.delivery.catalogs.extend({"catalog": " > ".join(where.split(" > ")), **catalog.to_dict()}
                                      for where, catalog in catalogs.catalogs)
        for key, verdict in catalogs.finish().items():
            entry = entries[key]
            current = (entry.signature or {}).get("status")
            if entry.kind != "package" and (current in (None, UNSIGNED) or verdict["status"] == CATALOG_ALTERED):
                entry.signature = verdict

    def _database_item(self, item: PayloadItem, entry: DeliveredFile, chain: list[str],
                       hashes: dict[str, tuple[int, ...]], depth: int, catalogs: CatalogCollector | None) -> None:
        from msitools.payload.filehash import file_hash_parts

        if item.error is not None:
            self.delivery.unreadable_part(chain + [item.name], item.error)
            entry.cannot(item.error)
            return
        spool = self._spooled(entry, item)
        if spool is None:
            return
        with spool:
            if item.key in hashes:
                content = spool.head(spool.size) if spool.size <= 1 << 20 else spool.chunks()  # small: no chunking
                entry.file_hash = "match" if file_hash_parts(content) == hashes[item.key] else "mismatch"
            head = spool.head(8)
            if head == CFB_MAGIC:
                entry.kind = "package"
                entry.platform = NOT_APPLICABLE
                self._nested(spool, entry, depth)
            elif head[:4] == CAB_MAGIC:
                entry.kind = "package"
                entry.platform = NOT_APPLICABLE
                self._nested_cabinet(spool, entry, depth)
            elif entry.kind == "delta":
                pass  # express payload: its bytes are a delta, not the file
            else:
                _describe_pe(entry, spool, self.limits, self.trust_store)
            if catalogs is not None:
                folder = tuple(item.file.path[:-1]) if item.file is not None else None
                catalogs.add(id(entry), item.name, folder, " > ".join(entry.found_in), spool)

    def _nested(self, spool: Spool, entry: DeliveredFile, depth: int) -> None:
        try:
            nested = open_package(spool.fileobj(), self.limits, name=entry.name)
        except MsiToolsError as exc:
            entry.note(f"looks like a compound file but does not open: {exc.message}")
            self.delivery.unreadable_part(entry.found_in, exc.message)
            return
        with nested:
            entry.note(f"a {nested.kind.upper()} package")
            entry.signature = package_signature(nested, entry.found_in, self.trust_store)
            self.delivery.packages.append(entry.signature)
            if nested.kind == "msp":
                entry.opened = True
                self._patch(nested, entry.found_in, depth)
            elif nested.kind in ("msi", "msm") and depth > 0:
                entry.opened = True
                self._database(nested, entry.found_in, depth - 1)

    def _patch(self, pkg: Package, chain: list[str], depth: int) -> None:
        from msitools.patch.msp import Msp
        from msitools.patch.payload import PatchPayload

        where = " > ".join(chain)
        try:
            walk = PatchPayload(Msp(pkg), base_names=self.delivery.base_names, where=where)
        except MsiToolsError as exc:
            self.delivery.findings.append(Finding(where, f"patch unreadable: {exc.message}"))
            self.delivery.unreadable_part(chain, exc.message)
            return
        try:
            for item in walk:
                self._patch_item(item, chain)
        except MsiToolsError as exc:
            self.delivery.unreadable_part(chain, exc.message)
        finally:
            self.delivery.findings.extend(walk.findings)

    def _patch_item(self, item: PayloadItem, chain: list[str]) -> None:
        if item.kind == KIND_EMPTY:
            return  # PatchWiz's placeholder member in registry-only patches
        entry = DeliveredFile(item.name, chain + item.found_in, key=item.key, table_size=item.table_size,
                              table_version=item.table_version, name_source=item.name_source)
        entry.findings.extend(Finding("", n.message, Level.INFO) for n in item.notes)
        self.delivery.files.append(entry)
        if item.error is not None:
            entry.cannot(item.error)
            if item.error.startswith(BYTES_UNREADABLE):
                self.delivery.unreadable_part(entry.found_in, item.error.split(": ", 1)[-1])
            return
        spool = self._spooled(entry, item)
        if spool is None:
            return
        with spool:
            if item.kind == KIND_DELTA:
                entry.kind = "delta"
                entry.delta = item.delta
                entry.cannot(DELTA_UNVERIFIED)
                entry.size = None
                return
            info = _describe_pe(entry, spool, self.limits, self.trust_store)
            if entry.name_source == NAME_KEY and info is not None and info.original_filename:
                entry.name = info.original_filename  # the walk could not (image too large for a name probe)
        item.close()
