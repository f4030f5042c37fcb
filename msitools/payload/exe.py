"""Self-extracting executables as payload containers: SFX overlays, IExpress resources, WiX Burn bundles.

Detection is by content (:func:`inspect_exe`):

* **Burn bundle**: a ``.wixburn`` section (magic ``0x00F14300``, version 2) gives the stub
  size and the size of every container; the UX container starts right after the stub, the
  attached containers after the whole engine (its original or current Authenticode
  signature included).  The UX container's member ``0`` is the bundle manifest (XML): its
  ``Payload`` elements name every member (``SourcePath``) with the file it is (``FilePath``).
* **IExpress**: an ``RT_RCDATA`` resource named ``CABINET``.
* **SFX**: a cabinet appended after the image (the overlay; the certificate table left out),
  found by its header within the first ``Limits.overlay_scan`` bytes; several may follow.
* otherwise a plain PE image (no container).

A cabinet that claims more bytes than the file holds, a container past the end of the
file, or a hostile header is a finding (error) or a PeError, never a guess.
:class:`ExePayload` yields every member of every embedded cabinet as a
:class:`~msitools.payload.items.PayloadItem`, named as the bundle manifest names it.
"""
from __future__ import annotations

import os
import struct
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from msitools.cab import Cabinet, CabinetSet
from msitools.cab.header import SIGNATURE as CAB_MAGIC
from msitools.errors import CabinetError, MsiToolsError, PeError
from msitools.findings import Finding, Level
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.payload.items import PayloadItem
from msitools.pe.layout import RT_RCDATA, PeLayout, find_resource, read_layout

BURN_MAGIC = 0x00F14300
BURN_VERSION = 2
BURN_CAB_FORMAT = 1
KIND_SFX, KIND_IEXPRESS, KIND_BURN, KIND_PE = "sfx", "iexpress", "burn", "pe"
KIND_NAMES = {KIND_SFX: "self-extracting executable (cabinet appended)",
              KIND_IEXPRESS: "IExpress package (cabinet in the CABINET resource)",
              KIND_BURN: "WiX Burn bundle", KIND_PE: "PE image (no container)"}


@dataclass(frozen=True)
class EmbeddedCabinet:
    label: str  # how reports name it: "overlay cabinet 1", "CABINET", "WixAttachedContainer" ...
    offset: int
    size: int
    role: str  # sfx / iexpress / burn-ux / burn-attached


@dataclass
class ExeContainer:
    """What a PE file carries: its kind, the cabinets inside, and for a bundle its manifest facts."""

    kind: str
    layout: PeLayout
    cabinets: list[EmbeddedCabinet] = field(default_factory=list)
    bundle: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def _cab_size_at(fileobj: BinaryIO, offset: int, file_size: int) -> int | None:
    """The size a cabinet header at *offset* declares, when it looks like one (None otherwise)."""
    fileobj.seek(offset)
    head = fileobj.read(36)
    if len(head) < 36 or head[:4] != CAB_MAGIC:
        return None
    reserved1, cb_cabinet = struct.unpack_from("<II", head, 4)
    minor, major = head[24], head[25]
    if reserved1 != 0 or (major, minor) != (1, 3) or cb_cabinet < 36:
        return None
    return cb_cabinet


def _overlay_cabinets(fileobj: BinaryIO, layout: PeLayout, name: str, limits: Limits,
                      findings: list[Finding]) -> list[EmbeddedCabinet]:
    """Cabinets appended after the image: the first found by its header within the scanned window,
    then every one that starts right where the previous one ends."""
    start, size = layout.overlay
    end = start + size
    if size < 36:
        return []
    fileobj.seek(start)
    window = fileobj.read(min(size, limits.overlay_scan))
    offset = None
    at = window.find(CAB_MAGIC)
    while at >= 0 and offset is None:
        if _cab_size_at(fileobj, start + at, layout.file_size) is not None:
            offset = start + at
        else:
            at = window.find(CAB_MAGIC, at + 1)
    out: list[EmbeddedCabinet] = []
    while offset is not None and offset < end:
        declared = _cab_size_at(fileobj, offset, layout.file_size)
        if declared is None:
            break
        limits.check("container_cabinets", len(out) + 1, "cabinets in the overlay", name)
        if offset + declared > end:
            findings.append(Finding(name, f"the cabinet at offset {offset} claims {declared:,} bytes, the file holds "
                                          f"{end - offset:,} after it (truncated?)", Level.ERROR))
        out.append(EmbeddedCabinet(f"overlay cabinet {len(out) + 1}", offset, min(declared, end - offset), KIND_SFX))
        offset += declared
    if len(out) == 1:
        out[0] = EmbeddedCabinet("overlay cabinet", out[0].offset, out[0].size, KIND_SFX)
    return out


def _burn(fileobj: BinaryIO, layout: PeLayout, name: str, limits: Limits,
          findings: list[Finding]) -> tuple[list[EmbeddedCabinet], dict[str, Any]] | None:
    section = layout.section(".wixburn")
    if section is None:
        return None
    fileobj.seek(section.raw_offset)
    data = fileobj.read(min(section.raw_size, 4096))
    if len(data) < 48:
        raise PeError("the .wixburn section is too short for a Burn header", name)
    magic, version = struct.unpack_from("<II", data, 0)
    if magic != BURN_MAGIC:
        raise PeError(f"the .wixburn section does not start with the Burn magic (0x{magic:08x})", name)
    if version != BURN_VERSION:
        raise PeError(f"unsupported Burn section version {version}", name)
    bundle_id = str(uuid.UUID(bytes_le=data[8:24])).upper()
    stub, _checksum, orig_sig_offset, orig_sig_size, fmt, count = struct.unpack_from("<IIIIII", data, 24)
    limits.check("container_cabinets", count, "Burn containers", name)
    if len(data) < 48 + 4 * count:
        raise PeError(f"the .wixburn section cannot hold {count} container sizes", name)
    sizes = list(struct.unpack_from(f"<{count}I", data, 48))
    if fmt != BURN_CAB_FORMAT:
        raise PeError(f"Burn container format {fmt} (only cabinets, format 1, exist)", name)
    if orig_sig_offset:
        engine = orig_sig_offset + orig_sig_size
    elif layout.certificate_size:
        engine = layout.certificate_offset + layout.certificate_size
    else:
        engine = stub + (sizes[0] if sizes else 0)
    out: list[EmbeddedCabinet] = []
    offset = engine
    for index, size in enumerate(sizes):
        at = stub if index == 0 else offset
        if index:
            offset += size
        if at + size > layout.file_size:
            findings.append(Finding(name, f"Burn container {index} ({size:,} bytes at offset {at}) is not in the file"
                                          " (a detached container, or a truncated download)", Level.ERROR))
            continue
        out.append(EmbeddedCabinet("UX container" if index == 0 else f"WixAttachedContainer{index}"
                                   if index > 1 else "WixAttachedContainer", at, size,
                                   "burn-ux" if index == 0 else "burn-attached"))
    return out, {"bundle_id": bundle_id, "stub_size": stub, "engine_size": engine, "containers": count}


def inspect_exe(fileobj: BinaryIO, file_size: int, name: str, limits: Limits = DEFAULT_LIMITS) -> ExeContainer:
    """The container a PE file is (see the module documentation); PeError when it is no sound PE file."""
    layout = read_layout(fileobj, file_size, name)
    findings: list[Finding] = []
    burn = _burn(fileobj, layout, name, limits, findings)
    if burn is not None:
        return ExeContainer(KIND_BURN, layout, burn[0], burn[1], findings)
    resource = find_resource(fileobj, layout, RT_RCDATA, "CABINET", name, limits)
    if resource is not None:
        offset, size = resource
        if _cab_size_at(fileobj, offset, file_size) is None:
            findings.append(Finding(name, "the CABINET resource does not hold a cabinet", Level.ERROR))
            return ExeContainer(KIND_IEXPRESS, layout, [], {}, findings)
        return ExeContainer(KIND_IEXPRESS, layout, [EmbeddedCabinet("CABINET", offset, size, KIND_IEXPRESS)], {},
                            findings)
    cabinets = _overlay_cabinets(fileobj, layout, name, limits, findings)
    if cabinets or findings:
        return ExeContainer(KIND_SFX, layout, cabinets, {}, findings)
    return ExeContainer(KIND_PE, layout, [], {}, findings)


def _manifest_names(xml: bytes, name: str) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    """Burn manifest: ``{container role or id: {SourcePath: FilePath}}`` and the packages it installs."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise PeError(f"the Burn manifest is not XML: {exc}", name) from None
    names: dict[str, dict[str, str]] = {"ux": {}, "attached": {}}
    packages: list[dict[str, str]] = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "Payload" and element.get("SourcePath") and element.get("FilePath"):
            where = "attached" if element.get("Container") else "ux"
            names[where][element.get("SourcePath", "")] = element.get("FilePath", "")
        elif tag.endswith("Package") and tag not in ("RelatedBundle",) and element.get("Id"):
            packages.append({"type": tag, "id": element.get("Id", ""), "version": element.get("Version", "")})
    return names, packages


class ExePayload:
    """Every member of every cabinet a self-extracting executable carries, in order."""

    def __init__(self, path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS, backend: str = "auto"):
        self.path = os.fspath(path)
        self.label = os.path.basename(self.path)
        self.limits = limits
        self.backend = backend
        self._fh = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        try:
            size = os.fstat(self._fh.fileno()).st_size
            self.container = inspect_exe(self._fh, size, self.path, limits)
        except BaseException:
            self._fh.close()
            raise
        self.kind = self.container.kind
        self.findings: list[Finding] = list(self.container.findings)
        self._names: dict[str, dict[str, str]] = {"ux": {}, "attached": {}}
        self.packages: list[dict[str, str]] = []
        if self.kind == KIND_BURN:
            self._read_manifest()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ExePayload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, cabinet: EmbeddedCabinet) -> CabinetSet:
        self._fh.seek(cabinet.offset)
        cab = Cabinet.open(self._fh, f"{self.label} > {cabinet.label}", limits=self.limits)
        return CabinetSet([cab], limits=self.limits)

    def _read_manifest(self) -> None:
        ux = next((c for c in self.container.cabinets if c.role == "burn-ux"), None)
        if ux is None:
            return
        try:
            cabset = self._open(ux)
            member = cabset.find("0")
            if member is None:
                self.findings.append(Finding(self.label, "the UX container holds no manifest (member 0)", Level.ERROR))
                return
            self.limits.check("burn_manifest_size", member.size, "Burn manifest", self.path)
            self._names, self.packages = _manifest_names(cabset.read_member("0"), self.path)
        except MsiToolsError as exc:
            self.findings.append(Finding(self.label, f"the Burn manifest cannot be read: {exc.message}", Level.ERROR))

    def listing(self) -> list[dict[str, Any]]:
        """Every member (as named by the bundle manifest), with its size, date and container."""
        out = []
        for cabinet in self.container.cabinets:
            try:
                members = self._open(cabinet).list_members()
            except MsiToolsError:
                continue
            for m in members:
                if cabinet.role == "burn-ux" and m.name == "0":
                    continue
                out.append({"name": self.member_name(cabinet, m.name), "size": m.size,
                            "date": m.date_time.isoformat() if m.date_time else None, "container": cabinet.label,
                            "member": m.name, "compression": m.compression})
        return out

    def member_name(self, cabinet: EmbeddedCabinet, member: str) -> str:
        table = self._names["ux" if cabinet.role == "burn-ux" else "attached"]
        return table.get(member, member)

    def __iter__(self) -> Iterator[PayloadItem]:
        for cabinet in self.container.cabinets:
            try:
                cabset = self._open(cabinet)
            except MsiToolsError as exc:
                self.findings.append(Finding(f"{self.label} > {cabinet.label}", exc.message, Level.ERROR))
                continue
            members = cabset.list_members()
            seen: set[int] = set()
            try:
                for member, chunks in cabset.iter_members(backend=self.backend):
                    seen.add(id(member))
                    if cabinet.role == "burn-ux" and member.name == "0":
                        for _ in chunks:  # the manifest: decoded above, not a delivered file
                            pass
                        continue
                    yield self._item(cabinet, member, chunks)
            except CabinetError as exc:
                self.findings.append(Finding(f"{self.label} > {cabinet.label}", exc.message, Level.ERROR))
                for member in members:
                    if id(member) not in seen and not (cabinet.role == "burn-ux" and member.name == "0"):
                        yield self._item(cabinet, member, None, exc.message)

    def _item(self, cabinet: EmbeddedCabinet, member: Any, chunks: Any, error: str | None = None) -> PayloadItem:
        name = self.member_name(cabinet, member.name)
        return PayloadItem(name.replace("\\", "/").rsplit("/", 1)[-1], f"{self.label} > {cabinet.label} > {name}",
                           chunks, error, key=member.name, member=member, size=member.size,
                           date_time=member.date_time, found_in=[cabinet.label, name])

    def own_signature(self, trust_store: Any = None) -> dict[str, Any]:
        """The executable's Authenticode status (as reports show a package's)."""
        from msitools.pe.authenticode_pe import signature_summary

        if self.container.layout.file_size > self.limits.pe_read_size:
            return {"status": "unreadable", "signed": None,
                    "reason": f"larger than the pe_read_size limit ({self.limits.pe_read_size} bytes)"}
        self._fh.seek(0)
        summary = signature_summary(self._fh.read(), self.label, self.limits, trust_store=trust_store)
        return {"signed": summary.get("status") not in ("unsigned", "unreadable"), **summary}


def is_pe(head: bytes) -> bool:
    return head[:2] == b"MZ"
