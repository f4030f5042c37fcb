"""MSP builder shaped like PatchWiz/WiX output (FORMATS §2.2, §3.7, §4).

An ``.msp`` (root CLSID {000C1086-...}) holds:

* summary information: Template = target ProductCodes, LastAuthor = the
  transform list ``:T;:#T;...``, RevNumber = patch code + obsoleted codes,
  WordCount = minimum patch engine;
* its own database with ``MsiPatchMetadata`` and ``MsiPatchSequence``;
* per target, two transform substorages: ``<name>`` (the product diff between
  the target and the upgraded image) and ``#<name>`` (patch plumbing);
* the cabinet stream with the files (whole files or binary deltas), members
  named by File key in patch-sequence order.

For each target the builder derives three databases:

``main_target``  = the upgraded image with the target's ``Media`` (and
                   ``MsiDigitalSignature``) tables and the target's
                   ``File.Sequence`` values for files that exist in the target
                   (WiX strips those from the main transform);
``patched``      = ``main_target`` plus the plumbing: carried files get the
                   new patch sequence numbers (whole files also
                   ``Attributes |= 0x1000``, msidbFileAttributesPatchAdded), one
                   ``Media`` row (DiskId, LastSequence, Cabinet ``#<stream>``,
                   Source = a property name), ``PatchPackage`` (patch code ->
                   DiskId), ``Property`` rows PATCHNEWPACKAGECODE /
                   PATCHNEWSUMMARYSUBJECT / PATCHNEWSUMMARYCOMMENTS, ``Patch``
                   and ``MsiPatchHeaders`` (created when missing; rows for the
                   deltas) and a ``PatchFiles`` action in the execute sequences;
main transform   = diff(target, main_target); ``#`` transform = diff(main_target, patched).

``patched`` is what installing the patch should make of the target's tables;
:meth:`PatchBuilder.describe` reports it for fixture descriptions.
"""
from __future__ import annotations

import copy
import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from msitools.errors import MsiToolsError, PatchError
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from msitools.testing.writer.database import CLSID_MST, DatabaseBuilder, TableModel
from msitools.testing.writer.summary import (
    ERROR_ADDEXISTINGROW,
    ERROR_ADDEXISTINGTABLE,
    ERROR_DELMISSINGROW,
    ERROR_DELMISSINGTABLE,
    ERROR_UPDATEMISSINGROW,
    VALIDATE_LANGUAGE,
    VALIDATE_NEWEQUALBASEVERSION,
    VALIDATE_PLATFORM,
    VALIDATE_PRODUCT,
    VALIDATE_UPDATEVERSION,
    VALIDATE_UPGRADECODE,
    SummaryInfo,
)
from msitools.testing.writer.transform import TransformWriter, binary_cell, transform_summary

__all__ = [
    "FILE_ATTR_PATCH_ADDED",
    "MAIN_VALIDATION",
    "PAIRED_VALIDATION",
    "PATCH_ERROR_CONDITIONS",
    "CarriedFile",
    "PatchBuilder",
    "PatchTarget",
]

FILE_ATTR_PATCH_ADDED = 0x1000
# wine-ptest main transform 0x0922; its '#' partner adds LANGUAGE | PLATFORM (0x0927)
MAIN_VALIDATION = VALIDATE_PRODUCT | VALIDATE_UPDATEVERSION | VALIDATE_NEWEQUALBASEVERSION | VALIDATE_UPGRADECODE
PAIRED_VALIDATION = MAIN_VALIDATION | VALIDATE_LANGUAGE | VALIDATE_PLATFORM
# WiX PatchTransformDefault: 0x17 (as wine-ptest) plus DELMISSINGTABLE
PATCH_ERROR_CONDITIONS = (ERROR_ADDEXISTINGROW | ERROR_DELMISSINGROW | ERROR_ADDEXISTINGTABLE
                          | ERROR_UPDATEMISSINGROW | ERROR_DELMISSINGTABLE)

PATCH_PACKAGE_COLUMNS = [("PatchId", "s38", True), ("Media_", "i2")]
PATCH_HEADERS_COLUMNS = [("StreamRef", "s38", True), ("Header", "v0")]
PATCH_METADATA_COLUMNS = [("Company", "S72", True), ("Property", "s72", True), ("Value", "l0")]
PATCH_SEQUENCE_COLUMNS = [("PatchFamily", "s72", True), ("ProductCode", "S38", True),
                          ("Sequence", "s72"), ("Attributes", "I2")]
SEQUENCE_TABLES = ("InstallExecuteSequence", "AdminExecuteSequence")
MAIN_STRIPPED_TABLES = ("Media", "MsiDigitalSignature")


@dataclass(frozen=True)
class CarriedFile:
    """A cabinet member: a whole new file, or a binary delta with its Patch row data.

    For a delta, *header* is the ``Patch.Header`` content; with *stream_ref* it
    goes into ``MsiPatchHeaders`` instead and ``Patch.StreamRef_`` points at it.
    *info* is free-form data for :meth:`PatchBuilder.describe` (e.g. the decoded
    header facts).
    """

    file_key: str
    data: bytes
    delta: bool = False
    header: bytes | None = None
    stream_ref: str | None = None
    patch_attributes: int = 0
    info: dict | None = None


@dataclass
class PatchTarget:
    """One target product and the databases derived for it (filled by :meth:`PatchBuilder.plan`)."""

    name: str
    target: DatabaseBuilder
    upgraded: DatabaseBuilder
    label: str = ""
    main_target: DatabaseBuilder | None = None
    patched: DatabaseBuilder | None = None
    main: TransformWriter | None = None
    paired: TransformWriter | None = None

    @property
    def paired_name(self) -> str:
        return "#" + self.name


def _property(db: DatabaseBuilder, name: str) -> str | None:
    table = db.tables.get("Property")
    row = table.rows.get((name,)) if table is not None else None
    return row[1] if row else None


def _set_property(db: DatabaseBuilder, name: str, value: str | None) -> None:
    if value is None:
        return
    if "Property" not in db.tables:
        raise PatchError("the upgraded image has no Property table")
    if (name,) in db.tables["Property"].rows:
        db.set_cell("Property", (name,), "Value", value)
    else:
        db.add_row("Property", name, value)


class PatchBuilder:
    """Collects targets and carried files; :meth:`build` writes the ``.msp``.

    Sequence numbers of carried files start at *sequence_start* (default: one
    past every File.Sequence / Media.LastSequence of all targets and upgraded
    images) in the order files were added; *disk_id* defaults to one past the
    largest DiskId.  All targets share the cabinet, DiskId and sequences.
    """

    def __init__(self, patch_code: str, *, family: str = "PatchFamily", cabinet: str = "PCW_CAB_Patch",
                 codepage: int = 1252, disk_id: int | None = None, sequence_start: int | None = None,
                 source_property: str = "PatchMediaSrc", obsoletes: Sequence[str] = (),
                 sequence_version: str = "1.0.0", sequence_attributes: int | None = None,
                 sequence_product_specific: bool = False,
                 metadata: Sequence[tuple[str | None, str, str]] = (),
                 summary: dict | None = None, word_count: int = 4, compression: str = "mszip",
                 main_validation: int = MAIN_VALIDATION, paired_validation: int = PAIRED_VALIDATION,
                 error_conditions: int = PATCH_ERROR_CONDITIONS, create_patch_tables: bool = True,
                 patch_files_sequence: int = 4010, file_date_time=None):
        if not (isinstance(patch_code, str) and len(patch_code) == 38 and patch_code[0] == "{"
                and patch_code[-1] == "}"):
            raise PatchError(f"patch code {patch_code!r} is not a {{GUID}}")
        self.patch_code = patch_code
        self.family = family
        self.cabinet = cabinet
        self.codepage = codepage
        self.disk_id = disk_id
        self.sequence_start = sequence_start
        self.source_property = source_property
        self.obsoletes = list(obsoletes)
        self.sequence_version = sequence_version
        self.sequence_attributes = sequence_attributes
        self.sequence_product_specific = sequence_product_specific
        self.metadata = list(metadata)
        self.summary_fields = dict(summary or {})
        self.word_count = word_count
        self.compression = compression
        self.main_validation = main_validation
        self.paired_validation = paired_validation
        self.error_conditions = error_conditions
        self.create_patch_tables = create_patch_tables
        self.patch_files_sequence = patch_files_sequence
        self.file_date_time = file_date_time  # cabinet member time (default: the cabinet writer's fixed time)
        self.targets: list[PatchTarget] = []
        self.files: list[CarriedFile] = []
        self._planned = False
        self._sequences: dict[str, int] = {}
        self._disk_id = 0

    # input --------------------------------------------------------------------------------------
    def add_target(self, target: DatabaseBuilder, upgraded: DatabaseBuilder, name: str,
                   label: str = "") -> PatchTarget:
        """A target product and its upgraded image; *name* is the main transform's
        substorage name (PatchWiz style ``Target01ToUpgrade01``; ``#name`` is the pair)."""
        if not name or name.startswith("#") or len(name) > 30:
            raise PatchError(f"transform name {name!r} must be 1..30 characters and not start with '#'")
        if any(t.name == name for t in self.targets):
            raise PatchError(f"two targets use the transform name {name!r}")
        for db, what in ((target, "target"), (upgraded, "upgraded image")):
            if _property(db, "ProductCode") is None:
                raise PatchError(f"{what} of {name!r} has no ProductCode property")
        entry = PatchTarget(name, target, upgraded, label or name)
        self.targets.append(entry)
        self._planned = False
        return entry

    def add_file(self, file_key: str, data: bytes) -> CarriedFile:
        """Carry the whole new file for File row *file_key*."""
        return self._add(CarriedFile(file_key, bytes(data)))

    def add_delta(self, file_key: str, data: bytes, *, header: bytes | None = None,
                  stream_ref: str | None = None, attributes: int = 0,
                  info: dict | None = None) -> CarriedFile:
        """Carry a binary delta (PA19/PA30 bytes) for File row *file_key*, with a Patch row."""
        if stream_ref is not None and header is None:
            raise PatchError(f"{file_key}: a StreamRef_ needs a header to store in MsiPatchHeaders")
        return self._add(CarriedFile(file_key, bytes(data), True, header, stream_ref, attributes, info))

    def _add(self, carried: CarriedFile) -> CarriedFile:
        if any(f.file_key == carried.file_key for f in self.files):
            raise PatchError(f"file {carried.file_key!r} is already carried by this patch")
        self.files.append(carried)
        self._planned = False
        return carried

    # planning -----------------------------------------------------------------------------------
    def _all_dbs(self) -> list[DatabaseBuilder]:
        return [db for t in self.targets for db in (t.target, t.upgraded)]

    def _defaults(self) -> tuple[int, int]:
        last = 0
        disk = 0
        for db in self._all_dbs():
            files = db.tables.get("File")
            if files is not None:
                seq = files.column_index("Sequence")
                last = max([last] + [r[seq] or 0 for r in files.rows.values()])
            media = db.tables.get("Media")
            if media is not None:
                last = max([last] + [r[1] or 0 for r in media.rows.values()])
                disk = max([disk] + [r[0] or 0 for r in media.rows.values()])
        start = self.sequence_start if self.sequence_start is not None else last + 1
        disk_id = self.disk_id if self.disk_id is not None else disk + 1
        return start, disk_id

    def plan(self) -> list[PatchTarget]:
        """Derive main_target/patched and both transforms for every target."""
        if not self.targets:
            raise PatchError("a patch needs at least one target")
        if not self.files:
            raise PatchError("a patch cabinet needs at least one file")
        start, disk_id = self._defaults()
        self._sequences = {f.file_key: start + i for i, f in enumerate(self.files)}
        self._disk_id = disk_id
        try:
            for entry in self.targets:
                self._plan_target(entry)
        except PatchError:
            raise
        except MsiToolsError as exc:
            raise PatchError(f"patch {self.patch_code}: {exc.message}") from exc
        self._planned = True
        return self.targets

    @property
    def last_sequence(self) -> int:
        return max(self._sequences.values())

    def _plan_target(self, entry: PatchTarget) -> None:
        target, upgraded = entry.target, entry.upgraded
        main_target = upgraded.copy()
        for name in MAIN_STRIPPED_TABLES:
            main_target.tables.pop(name, None)
            if name in target.tables:
                main_target.tables[name] = copy.deepcopy(target.tables[name])
        files_new = main_target.tables.get("File")
        files_old = target.tables.get("File")
        if files_new is not None and files_old is not None:
            seq = files_new.column_index("Sequence")
            for key, row in list(files_new.rows.items()):
                old = files_old.rows.get(key)
                if old is not None and old[seq] != row[seq]:
                    main_target.set_cell("File", key, "Sequence", old[seq])

        patched = main_target.copy()
        self._add_plumbing(patched, upgraded, entry.name)
        entry.main_target = main_target
        entry.patched = patched
        entry.main = TransformWriter.from_diff(
            target, main_target,
            summary=transform_summary(target, main_target, validation=self.main_validation,
                                      error_conditions=self.error_conditions))
        entry.paired = TransformWriter.from_diff(
            main_target, patched,
            summary=transform_summary(main_target, patched, validation=self.paired_validation,
                                      error_conditions=self.error_conditions))

    def _add_plumbing(self, db: DatabaseBuilder, upgraded: DatabaseBuilder, name: str) -> None:
        files = db.tables.get("File")
        if files is None:
            raise PatchError(f"{name}: the upgraded image has no File table")
        attr_col = files.column_index("Attributes")
        seq_col = files.column_index("Sequence")
        for carried in self.files:
            key = (carried.file_key,)
            if key not in files.rows:
                raise PatchError(f"{name}: carried file {carried.file_key!r} has no File row in the upgraded image")
            sequence = self._sequences[carried.file_key]
            if not carried.delta:
                attributes = files.rows[key][attr_col] or 0
                db.set_cell("File", key, "Attributes", attributes | FILE_ATTR_PATCH_ADDED)
            db.set_cell("File", key, "Sequence", sequence)

        if "Media" not in db.tables:
            raise PatchError(f"{name}: the target has no Media table")
        db.add_row("Media", self._disk_id, self.last_sequence, None, "#" + self.cabinet, None,
                   self.source_property)

        if "PatchPackage" not in db.tables:
            db.add_table("PatchPackage", PATCH_PACKAGE_COLUMNS)
        db.add_row("PatchPackage", self.patch_code, self._disk_id)

        source = upgraded.summary or SummaryInfo()
        _set_property(db, "PATCHNEWPACKAGECODE", source.revision)
        _set_property(db, "PATCHNEWSUMMARYSUBJECT", source.subject)
        _set_property(db, "PATCHNEWSUMMARYCOMMENTS", source.comments)

        deltas = [f for f in self.files if f.delta]
        if deltas or self.create_patch_tables:
            seq_type = files.columns[seq_col].type_word
            if "Patch" not in db.tables:
                db.add_table("Patch", [("File_", "s72", True), ("Sequence", seq_type | 0x2000),
                                       ("PatchSize", "i4"), ("Attributes", "i2"), ("Header", "V0"),
                                       ("StreamRef_", "S72")])
            if "MsiPatchHeaders" not in db.tables:
                db.add_table("MsiPatchHeaders", PATCH_HEADERS_COLUMNS)
        for carried in deltas:
            sequence = self._sequences[carried.file_key]
            if carried.stream_ref is not None:
                db.add_row("Patch", carried.file_key, sequence, len(carried.data), carried.patch_attributes,
                           None, carried.stream_ref)
                db.add_row("MsiPatchHeaders", carried.stream_ref, carried.header)
            else:
                db.add_row("Patch", carried.file_key, sequence, len(carried.data), carried.patch_attributes,
                           carried.header, None)

        for table in SEQUENCE_TABLES:
            model = db.tables.get(table)
            if model is not None and ("PatchFiles",) not in model.rows:
                db.add_row(table, "PatchFiles", None, self.patch_files_sequence)

    # output -------------------------------------------------------------------------------------
    def cabinet_bytes(self) -> bytes:
        """The patch cabinet: carried files named by File key, in sequence order."""
        ordered = sorted(self.files, key=lambda f: self._sequences.get(f.file_key, 0))
        stamp = {"date_time": self.file_date_time} if self.file_date_time is not None else {}
        try:
            return build_cabinet([FolderSpec([FileSpec(f.file_key, f.data, **stamp) for f in ordered],
                                             compression=self.compression)])
        except ValueError as exc:   # the cabinet writer's argument errors
            raise PatchError(f"patch cabinet {self.cabinet!r}: {exc}") from exc

    def transform_names(self) -> list[str]:
        return [n for t in self.targets for n in (t.name, t.paired_name)]

    def summary(self) -> SummaryInfo:
        codes: list[str] = []
        for t in self.targets:
            code = _property(t.target, "ProductCode")
            if code is None:  # checked by add_target(), but the target may have been edited since
                raise PatchError(f"target of {t.name!r} has no ProductCode property")
            if code not in codes:
                codes.append(code)
        fields = {"codepage": self.codepage, **self.summary_fields}
        return SummaryInfo.for_msp(target_product_codes=codes, transforms=self.transform_names(),
                                   patch_code=self.patch_code, obsoleted=self.obsoletes,
                                   word_count=self.word_count, **fields)

    def _own_tables(self) -> dict[str, TableModel]:
        db = DatabaseBuilder(self.codepage)
        try:
            db.add_table("MsiPatchMetadata", PATCH_METADATA_COLUMNS)
            for company, prop, value in self.metadata:
                db.add_row("MsiPatchMetadata", company, prop, value)
            db.add_table("MsiPatchSequence", PATCH_SEQUENCE_COLUMNS)
            codes: list[str | None] = [None]
            if self.sequence_product_specific:
                codes = list(dict.fromkeys(_property(t.target, "ProductCode") for t in self.targets))
            for code in codes:
                db.add_row("MsiPatchSequence", self.family, code, self.sequence_version, self.sequence_attributes)
        except MsiToolsError as exc:
            raise PatchError(f"patch {self.patch_code}: {exc.message}") from exc
        return db.tables

    def database(self) -> DatabaseBuilder:
        """The .msp's own database: MsiPatchMetadata, MsiPatchSequence, cabinet, transforms."""
        if not self._planned:
            self.plan()
        db = DatabaseBuilder(self.codepage)
        db.summary = self.summary()
        db.tables.update(self._own_tables())
        db.add_stream(self.cabinet, self.cabinet_bytes())
        for t in self.targets:
            db.add_storage(t.name, CLSID_MST, t.main)
            db.add_storage(t.paired_name, CLSID_MST, t.paired)
        return db

    def build(self) -> bytes:
        return self.database().build("msp")

    def write(self, path) -> int:
        data = self.build()
        with open(path, "wb") as fh:
            fh.write(data)
        return len(data)

    # description --------------------------------------------------------------------------------
    def describe(self, target_names: dict[int, str] | None = None) -> dict:
        """What the patch is meant to do, from the builders (not from the written file)."""
        if not self._planned:
            self.plan()
        summary = self.summary()
        members = []
        for f in sorted(self.files, key=lambda f: self._sequences[f.file_key]):
            member: dict[str, Any] = {
                "name": f.file_key, "sequence": self._sequences[f.file_key],
                "kind": "delta" if f.delta else "file", "size": len(f.data),
                "crc32": zlib.crc32(f.data), "sha256": hashlib.sha256(f.data).hexdigest(),
            }
            if f.delta:
                member["patch_row"] = {"header": "MsiPatchHeaders" if f.stream_ref else
                                       ("Patch.Header" if f.header is not None else None),
                                       "stream_ref": f.stream_ref, "attributes": f.patch_attributes,
                                       "header_size": len(f.header) if f.header is not None else None}
            if f.info:
                member["info"] = f.info
            members.append(member)
        targets = []
        for t in self.targets:
            assert t.main is not None and t.paired is not None and t.patched is not None  # set by plan()
            targets.append({
                "label": t.label,
                "product_code": _property(t.target, "ProductCode"),
                "transforms": [t.name, t.paired_name],
                "main": {"name": t.name, "summary": summary_dict(t.main.summary), "changes": t.main.describe()},
                "paired": {"name": t.paired_name, "summary": summary_dict(t.paired.summary),
                           "changes": t.paired.describe()},
                "patched_tables": changed_tables(t.target, t.patched),
                "dropped_tables": sorted(set(t.target.tables) - set(t.patched.tables)),
            })
        return {
            "kind": "msp",
            "patch_code": self.patch_code,
            "obsoletes": list(self.obsoletes),
            "summary": summary_dict(summary),
            "database": {name: table_dict(model) for name, model in self._own_tables().items()},
            "cabinet": {"stream": self.cabinet, "disk_id": self._disk_id, "last_sequence": self.last_sequence,
                        "source_property": self.source_property, "members": members},
            "targets": targets,
        }


SUMMARY_NAMES = {1: "codepage", 2: "title", 3: "subject", 4: "author", 5: "keywords", 6: "comments",
                 7: "template", 8: "last_author", 9: "revision", 11: "last_printed", 12: "created",
                 13: "last_saved", 14: "page_count", 15: "word_count", 16: "char_count", 18: "app_name",
                 19: "security"}


def summary_dict(summary: SummaryInfo | None) -> dict | None:
    """Summary fields as plain data (FILETIMEs as ticks)."""
    if summary is None:
        return None
    out = {}
    for pid, _vt, value in summary.properties():
        out[SUMMARY_NAMES.get(pid, str(pid))] = value
    return out


def table_dict(model: TableModel) -> dict:
    """A table as plain data: columns and rows sorted by key."""
    def order(key: tuple) -> tuple:
        return tuple((0,) if v is None else (1, v) for v in key)

    keys = model.key_indexes

    def cells(row: tuple) -> list:
        return [binary_cell(model.name, [row[k] for k in keys], v) if isinstance(v, bytes) else v for v in row]

    return {
        "columns": [{"name": c.name, "type": c.type_word, "idt": c.idt_type, "key": c.key} for c in model.columns],
        "rows": [cells(model.rows[k]) for k in sorted(model.rows, key=order)],
    }


def changed_tables(before: DatabaseBuilder, after: DatabaseBuilder) -> dict:
    """Every table of *after* whose schema or rows differ from *before*, in full."""
    out = {}
    for name in sorted(after.tables):
        new = after.tables[name]
        old = before.tables.get(name)
        if old is not None and old.columns == new.columns and old.rows == new.rows:
            continue
        out[name] = table_dict(new)
    return out
