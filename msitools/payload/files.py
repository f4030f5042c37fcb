"""Which bytes are which file: File.Sequence -> Media row -> cabinet -> member named by the File key.

A file with Sequence *s* lives on the Media row with the smallest DiskId
whose LastSequence >= *s* (msdocs; Wine).  ``Media.Cabinet`` ``#name`` is an
embedded stream of the package that holds the row (the base, or the patch that
added it); a plain name is a cabinet file beside the package; an empty
Cabinet, or a file marked uncompressed, is read from the source tree beside the
package.  Paths come from the Directory table (:mod:`msitools.db.directory`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from msitools.db.columns import KIND_INT, KIND_STRING
from msitools.db.directory import DirectoryTree, long_file_name, resolve_directories
from msitools.db.package import Package
from msitools.errors import TableError
from msitools.findings import Finding, texts

if TYPE_CHECKING:  # the patched view is needed only for type hints here
    from msitools.db.patched import PatchedDatabase

ATTR_PATCH_ADDED = 0x1000
ATTR_NONCOMPRESSED = 0x2000
ATTR_COMPRESSED = 0x4000
SOURCE_SHORT_NAMES = 0x1
SOURCE_COMPRESSED = 0x2

# column kinds the listing relies on (the standard schema); a package that
# redefines them is refused rather than misread
EXPECTED_KINDS = {
    "Directory": {"Directory": KIND_STRING, "Directory_Parent": KIND_STRING, "DefaultDir": KIND_STRING},
    "Component": {"Component": KIND_STRING, "Directory_": KIND_STRING},
    "Media": {"DiskId": KIND_INT, "LastSequence": KIND_INT, "Cabinet": KIND_STRING, "Source": KIND_STRING},
    "File": {"File": KIND_STRING, "Component_": KIND_STRING, "FileName": KIND_STRING, "FileSize": KIND_INT,
             "Version": KIND_STRING, "Language": KIND_STRING, "Attributes": KIND_INT, "Sequence": KIND_INT},
}


@dataclass
class MediaInfo:
    disk_id: int
    last_sequence: int
    cabinet: str | None  # Media.Cabinet as stored
    origin: Package  # where an embedded (#) cabinet stream lives
    source: str | None = None
    op: str = "none"

    @property
    def embedded(self) -> bool:
        return self.cabinet is not None and self.cabinet.startswith("#")

    @property
    def cabinet_name(self) -> str | None:
        if not self.cabinet:
            return None
        return self.cabinet[1:] if self.embedded else self.cabinet

    def describe(self) -> str:
        if not self.cabinet:
            return "(uncompressed source)"
        if self.embedded:
            return f"{os.path.basename(self.origin.path)} > {self.cabinet_name}"
        return self.cabinet


@dataclass
class PackageFile:
    key: str
    file_name: str  # long name
    short_name: str
    component: str | None
    directory: str | None
    path: tuple[str, ...]  # directory components + file name, lessmsi layout
    size: int | None
    version: str | None
    language: str | None
    attributes: int
    sequence: int | None
    media: MediaInfo | None
    compressed: bool
    op: str = "none"

    @property
    def display_path(self) -> str:
        return "\\".join(self.path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.key,
            "path": self.display_path,
            "name": self.file_name,
            "size": self.size,
            "version": self.version,
            "language": self.language,
            "component": self.component,
            "directory": self.directory,
            "attributes": self.attributes,
            "sequence": self.sequence,
            "disk_id": self.media.disk_id if self.media else None,
            "cabinet": self.media.describe() if self.media and self.compressed else None,
            "compressed": self.compressed,
            **({"@op": self.op} if self.op != "none" else {}),
        }


@dataclass
class FileListing:
    """A package's files with their media and folders, and what was noticed on the way."""

    files: list[PackageFile]
    media: list[MediaInfo]
    directories: DirectoryTree
    findings: list[Finding] = field(default_factory=list)
    package: Package | None = None

    @property
    def issues(self) -> list[str]:
        """The findings as one-line texts."""
        return texts(self.findings)


class _Rows:
    """Table rows as dicts, from a package or a patched view (live rows, with their op and origin)."""

    def __init__(self, pkg: Package, view: PatchedDatabase | None):
        self.pkg = pkg
        self.view = view

    def rows(self, name: str) -> list[tuple[dict[str, Any], str, Package]]:
        if self.view is not None:
            if not self.view.has_table(name):
                return []
            table = self.view.table(name)
            self._check_kinds(name, table.columns)
            names = table.column_names
            return [(dict(zip(names, r.values)), r.op, self.view.origin_of(r))
                    for r in table.iter_rows(False)]
        table = self.pkg.get_table(name)
        if table is None:
            return []
        self._check_kinds(name, table.columns)
        return [(rec, "none", self.pkg) for rec in table.records()]

    def _check_kinds(self, name: str, columns) -> None:
        expected = EXPECTED_KINDS.get(name, {})
        for column in columns:
            kind = expected.get(column.name)
            if kind is not None and column.kind != kind:
                raise TableError(f"table {name!r}: column {column.name!r} is of kind {column.kind}, "
                                 f"the standard schema says {kind}", self.pkg.path)


def list_package_files(pkg: Package, view: PatchedDatabase | None = None) -> FileListing:
    """Every File row with its resolved path, media and cabinet (of the patched database with *view*)."""
    rows = _Rows(pkg, view)
    issues: list[str] = []
    word_count = pkg.summary.get(15)
    source_flags = word_count if isinstance(word_count, int) else SOURCE_COMPRESSED
    tree = resolve_directories((r.get("Directory"), r.get("Directory_Parent"), r.get("DefaultDir"))
                               for r, _, _ in rows.rows("Directory"))
    issues.extend(tree.issues)
    components = {r.get("Component"): r.get("Directory_") for r, _, _ in rows.rows("Component")}
    media = sorted((MediaInfo(r.get("DiskId") or 0, r.get("LastSequence") or 0, r.get("Cabinet"), origin,
                              r.get("Source"), op) for r, op, origin in rows.rows("Media")),
                   key=lambda m: m.disk_id)
    merge_module = not media and _merge_module_cabinet(pkg)
    if merge_module:  # a merge module's payload: the MergeModule.CABinet stream, members named by File key
        media = [MediaInfo(1, 0x7FFFFFFF, f"#{MERGE_MODULE_CABINET}", pkg, None)]
    files: list[PackageFile] = []
    path_of = tree.path_of
    default_compressed = bool(source_flags & SOURCE_COMPRESSED)
    medium_of: dict[int | None, MediaInfo | None] = {}  # sequence -> medium, as most files share few media
    for rec, op, _origin in rows.rows("File"):
        get = rec.get
        key = get("File")
        if key is None:
            continue
        sequence = get("Sequence")
        attributes = get("Attributes") or 0
        try:
            medium = medium_of[sequence]
        except KeyError:
            medium = medium_of[sequence] = _media_for(media, sequence)
        if medium is None and media:
            issues.append(f"file {key!r} (sequence {sequence}) is on no Media row")
        if merge_module:
            compressed = True
        elif attributes & ATTR_NONCOMPRESSED:
            compressed = False
        elif attributes & (ATTR_COMPRESSED | ATTR_PATCH_ADDED):
            compressed = True
        else:
            compressed = default_compressed
        if medium is not None and not medium.cabinet:
            compressed = False
        component = get("Component_")
        directory = components.get(component)
        if directory is None and component not in components:
            issues.append(f"file {key!r} belongs to component {component!r}, which is not in the Component table")
        raw_name = get("FileName") or key
        short = raw_name.partition("|")[0]
        name = long_file_name(raw_name)
        files.append(PackageFile(key, name, short, component, directory, path_of(directory) + (name,),
                                 get("FileSize"), get("Version"), get("Language"), attributes, sequence, medium,
                                 compressed, op))
    files.sort(key=lambda f: (f.sequence is None, f.sequence or 0, f.key))
    return FileListing(files, media, tree, [Finding("", text) for text in issues], pkg)


MERGE_MODULE_CABINET = "MergeModule.CABinet"


def _merge_module_cabinet(pkg: Package) -> bool:
    """True for a merge module that carries its payload in ``MergeModule.CABinet`` (it has no Media table)."""
    return pkg.kind == "msm" and pkg.find_stream(MERGE_MODULE_CABINET) is not None


def _media_for(media: list[MediaInfo], sequence: int | None) -> MediaInfo | None:
    if sequence is None:
        return None
    for medium in media:
        if medium.last_sequence >= sequence:
            return medium
    return None


class SourceTree:
    """Where uncompressed files live in the source image beside the package (relative components).

    The source layout uses the *source* part of DefaultDir, short names when the
    summary's Word Count has the short-names bit.  Built once per package: a
    package of thousands of uncompressed files resolves its folders once.
    """

    def __init__(self, pkg: Package, view: PatchedDatabase | None = None):
        rows = _Rows(pkg, view)
        self.tree = resolve_directories(((r.get("Directory"), r.get("Directory_Parent"), r.get("DefaultDir"))
                                         for r, _, _ in rows.rows("Directory")), source=True)
        word_count = pkg.summary.get(15)
        self.short_names = bool(isinstance(word_count, int) and word_count & SOURCE_SHORT_NAMES)

    def path(self, f: PackageFile) -> list[str]:
        parts = list(self.tree.path_of(f.directory))[1:]  # drop SourceDir: the package's own folder
        return parts + [f.short_name if self.short_names and f.short_name else f.file_name]

