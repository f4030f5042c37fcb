"""``open_package``: the one entry point for MSI, MSP, MST and MSM files.

The kind comes from the root storage CLSID (FORMATS §1.0): {000C1084-...} is
an installation database (.msi, or .msm when it carries a ModuleSignature
table and no Feature table), {000C1086-...} a patch, {000C1082-...} a
transform.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from msitools.container.cfb import CompoundFile, Entry
from msitools.db.database import Database, StreamInfo, classify_children
from msitools.db.summary import SummaryInformation
from msitools.errors import HINT_TRANSFORM_REPORT, CompoundFileError, MsiToolsError, UsageError
from msitools.limits import DEFAULT_LIMITS, Limits

_TAIL = bytes.fromhex("00000000C000000000000046")
CLSID_MSI = bytes.fromhex("84100C00") + _TAIL
CLSID_MSP = bytes.fromhex("86100C00") + _TAIL
CLSID_MST = bytes.fromhex("82100C00") + _TAIL
KIND_BY_CLSID = {CLSID_MSI: "msi", CLSID_MSP: "msp", CLSID_MST: "mst"}
CLSID_BY_KIND = {"msi": CLSID_MSI, "msm": CLSID_MSI, "msp": CLSID_MSP, "mst": CLSID_MST}
SUMMARY_STREAM = "\x05SummaryInformation"
KINDS = ("msi", "msp", "mst", "msm")


class Package:
    """An opened Windows Installer file.  Close it (or use ``with``) when done."""

    def __init__(self, cfb: CompoundFile, path: str, kind: str, limits: Limits = DEFAULT_LIMITS):
        self.cfb = cfb
        self.path = path
        self.kind = kind
        self.limits = limits
        self.issues: list[str] = []
        self._summary: SummaryInformation | None = None
        table_streams, self._streams, self._storages = classify_children(cfb.root)
        self._table_streams = table_streams
        self.database: Database | None = None
        if kind != "mst":
            self.database = Database(cfb, cfb.root, path, limits)
            if kind == "msi" and self.database.has_table("ModuleSignature") and not self.database.has_table("Feature"):
                self.kind = "msm"

    # -- summary ----------------------------------------------------------
    @property
    def summary(self) -> SummaryInformation:
        if self._summary is None:
            entry = self.cfb.root.child(SUMMARY_STREAM)
            if entry is None:
                self.issues.append("no summary information stream")
                self._summary = SummaryInformation.empty(self.kind)
            else:
                self._summary = SummaryInformation.parse(self.cfb.read_stream(entry), self.kind, self.path,
                                                         self.limits)
        return self._summary

    # -- tables -----------------------------------------------------------
    def _db(self) -> Database:
        if self.database is None:
            raise UsageError("a transform has no tables of its own", hint=HINT_TRANSFORM_REPORT,
                             path=self.path)
        return self.database

    @property
    def table_names(self) -> list[str]:
        if self.database is None:
            return sorted(self._table_streams.keys() - {"_StringPool", "_StringData"})
        return self.database.table_names

    def table(self, name: str):
        return self._db().table(name)

    def get_table(self, name: str):
        return self.database.get_table(name) if self.database is not None else None

    def tables(self):
        return self._db().tables()

    def truncation(self) -> list[str]:
        """One line per stream the file holds only in part (a download cut short); empty when whole."""
        from msitools.container.streamname import decode_stream_name

        lines = []
        for entry, present in self.cfb.truncated_streams():
            shown = decode_stream_name(entry.name)[0] if entry.parent is self.cfb.root else entry.path
            lines.append(f"the file is truncated: stream {shown!r} has {present:,} of its {entry.size:,} bytes "
                         f"(the file ends at {self.cfb.file_size:,} bytes; the download may be incomplete)")
        return lines

    # -- streams and storages ----------------------------------------------
    @property
    def streams(self) -> list[StreamInfo]:
        """Non-table streams of the root storage, by decoded name."""
        return list(self._streams)

    @property
    def storages(self) -> list[Entry]:
        return list(self._storages)

    @property
    def storage_names(self) -> list[str]:
        return [s.name for s in self._storages]

    def storage(self, name: str) -> Entry:
        for entry in self._storages:
            if entry.name == name:
                return entry
        raise UsageError(f"no substorage named {name!r}", self.path)

    def storage_bytes(self, name: str) -> bytes:
        """A substorage as a standalone compound file (e.g. an MSP's transform as an .mst):
        its streams and sub-storages with their names, CLSIDs, state bits and times."""
        from msitools.container.cfb_writer import CompoundFileWriter

        source = self.storage(name)
        out = CompoundFileWriter(source.clsid, root_state_bits=source.state_bits, root_created=source.created,
                                 root_modified=source.modified)
        todo = [(source, out.root)]
        while todo:
            src, dst = todo.pop()
            for child in src.children:
                meta = {"state_bits": child.state_bits, "created": child.created, "modified": child.modified}
                if child.is_stream:
                    dst.add_stream(child.name, self.cfb.read_stream(child), **meta)
                elif child.is_storage:
                    todo.append((child, dst.add_storage(child.name, child.clsid, **meta)))
        return out.to_bytes()

    def find_stream(self, name: str) -> StreamInfo | None:
        for info in self._streams:
            if info.name == name:
                return info
        return None

    def read_stream(self, name: str) -> bytes:
        info = self.find_stream(name)
        if info is None:
            raise UsageError(f"no stream named {name!r}", self.path)
        return self.cfb.read_stream(info.entry)

    def open_stream(self, name: str):
        info = self.find_stream(name)
        if info is None:
            raise UsageError(f"no stream named {name!r}", self.path)
        return self.cfb.open_stream(info.entry)

    def iter_streams(self) -> Iterator[StreamInfo]:
        return iter(self._streams)

    # -- lifetime -----------------------------------------------------------
    def close(self) -> None:
        self.cfb.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Package {self.kind} {self.path!r}>"


def detect_kind(cfb: CompoundFile) -> str:
    kind = KIND_BY_CLSID.get(cfb.root.clsid)
    if kind:
        return kind
    names = {c.name for c in cfb.root.children}
    raise CompoundFileError(
        f"not a Windows Installer file: root storage class {cfb.root.clsid_text} is not MSI, MSP or MST"
        + (" (it has MSI tables; it may be damaged)" if "\u4840\u3f7f\u4164\u422f\u4836" in names else ""),
        cfb.name)


def open_package(path: str | os.PathLike[str] | bytes | BinaryIO, limits: Limits = DEFAULT_LIMITS,
                 name: str | None = None) -> Package:
    """Open an .msi, .msp, .mst or .msm file: a path, the file's bytes, or a seekable binary
    file object (*name* labels the last two in messages)."""
    if isinstance(path, (bytes, bytearray)):
        display = name or "<bytes>"
    elif hasattr(path, "read"):
        display = name or str(getattr(path, "name", "<stream>"))
    else:
        display = name or os.fspath(path)
    cfb = CompoundFile(path, name=display, limits=limits)
    try:
        kind = detect_kind(cfb)
        return Package(cfb, display, kind, limits)
    except MsiToolsError as exc:
        cfb.close()
        raise exc.with_path(display) from None
    except BaseException:
        cfb.close()
        raise
