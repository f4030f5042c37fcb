"""A small installable-package builder on top of :class:`DatabaseBuilder` and the cabinet writer.

Test fixtures (extraction attacks, cabinet layouts, the hotfix replica) need
complete packages: Directory, Component, File, Media, Feature,
FeatureComponents, Property and an embedded, external, split or absent
cabinet.  :func:`build_package` makes one from a directory list and a file
list; callers can add further tables to the returned builder before writing.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from msitools.db.directory import long_file_name, resolve_directories
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet_set
from msitools.testing.writer.database import DatabaseBuilder
from msitools.testing.writer.summary import SummaryInfo

FIXED_TIME = _dt.datetime(2010, 2, 1, 16, 35, 0)
# the standard ServiceInstall table (name, column type, primary key), for packages that install a service
SERVICE_INSTALL_COLUMNS = [("ServiceInstall", "s72", True), ("Name", "s255", False), ("DisplayName", "L255", False),
                           ("ServiceType", "i4", False), ("StartType", "i4", False), ("ErrorControl", "i4", False),
                           ("LoadOrderGroup", "S255", False), ("Dependencies", "S255", False),
                           ("StartName", "S255", False), ("Password", "S255", False), ("Arguments", "S255", False),
                           ("Component_", "s72", False), ("Description", "L255", False)]
STANDARD_DIRECTORIES = [
    ("TARGETDIR", None, "SourceDir"),
    ("ProgramFilesFolder", "TARGETDIR", "PFiles"),
]


@dataclass
class PayloadFile:
    directory: str  # Directory id
    file_name: str  # FileName as stored ("short|long" or one name)
    data: bytes
    key: str | None = None  # File key (default: derived from the name)
    component: str | None = None  # default: one component per file
    version: str | None = None
    language: str | None = None
    attributes: int = 0
    date_time: _dt.datetime = FIXED_TIME
    declared_size: int | None = None  # File.FileSize when it must differ from len(data)


@dataclass
class BuiltPackage:
    database: DatabaseBuilder
    cabinets: list[tuple[str, bytes]] = field(default_factory=list)  # external cabinets (name, bytes)
    uncompressed: list[tuple[list[str], bytes]] = field(default_factory=list)  # source-tree files

    def write(self, path, kind: str = "msi", **options) -> int:
        return self.database.write(path, kind, **options)


def _key_for(name: str, used: set) -> str:
    base = "".join(ch if ch.isalnum() or ch in "._" else "_" for ch in name.split("|")[-1]) or "file"
    if not (base[0].isalpha() or base[0] == "_"):
        base = "_" + base
    key, n = base, 1
    while key in used:
        n += 1
        key = f"{base}.{n}"
    used.add(key)
    return key


def _last_started(raw: bytes, sequences: dict[str, int], default: int) -> int:
    """The highest sequence of the files whose data starts in the cabinet *raw*."""
    import io

    from msitools.cab import Cabinet
    from msitools.cab.header import IFOLD_CONTINUED_FROM_PREV, IFOLD_CONTINUED_PREV_AND_NEXT

    with Cabinet.open(io.BytesIO(raw), "split") as cab:
        started = [sequences[e.name] for e in cab.files
                   if e.i_folder not in (IFOLD_CONTINUED_FROM_PREV, IFOLD_CONTINUED_PREV_AND_NEXT)]
    return max(started, default=default)


def build_package(files: Sequence[PayloadFile], *, directories: Sequence = STANDARD_DIRECTORIES,
                  product_name: str = "msitools fixture", manufacturer: str = "msitools tests",
                  product_code: str = "{11111111-2222-3333-4444-000000000001}",
                  product_version: str = "1.0.0.0",
                  upgrade_code: str = "{11111111-2222-3333-4444-0000000000FF}",
                  package_code: str = "{11111111-2222-3333-4444-0000000000AA}",
                  template: str = "Intel;1033", codepage: int = 1252,
                  media: str = "embedded", cabinet: str = "payload.cab", compression: str = "mszip",
                  window_bits: int = 16, max_cabinet_data: int | None = None, sequence_width: str = "i2",
                  created: _dt.datetime = FIXED_TIME, checksums: bool = True) -> BuiltPackage:
    """Build a package.  *media*: ``embedded`` (stream ``#cabinet``; a set of streams, one Media
    row each, when *max_cabinet_data* splits it), ``external`` (cabinet file(s)
    returned in ``cabinets``; a set when *max_cabinet_data* splits it), ``uncompressed`` (files
    returned in ``uncompressed`` with their source-tree path).  *window_bits*: of LZX or Quantum.
    *checksums*: write CFDATA checksums (0, "not computed", when False)."""
    db = DatabaseBuilder(codepage=codepage)
    db.add_table("Directory", [("Directory", "s72", True), ("Directory_Parent", "S72", False),
                               ("DefaultDir", "l255", False)])
    for row in directories:
        db.add_row("Directory", *row)
    db.add_table("Component", [("Component", "s72", True), ("ComponentId", "S38", False),
                               ("Directory_", "s72", False), ("Attributes", "i2", False),
                               ("Condition", "S255", False), ("KeyPath", "S72", False)])
    db.add_table("File", [("File", "s72", True), ("Component_", "s72", False), ("FileName", "l255", False),
                          ("FileSize", "i4", False), ("Version", "S72", False), ("Language", "S20", False),
                          ("Attributes", "I2", False), ("Sequence", sequence_width, False)])
    db.add_table("Media", [("DiskId", "i2", True), ("LastSequence", sequence_width, False),
                           ("DiskPrompt", "L64", False), ("Cabinet", "S255", False),
                           ("VolumeLabel", "S32", False), ("Source", "S72", False)])
    db.add_table("Feature", [("Feature", "s38", True), ("Feature_Parent", "S38", False), ("Title", "L64", False),
                             ("Description", "L255", False), ("Display", "I2", False), ("Level", "i2", False),
                             ("Directory_", "S72", False), ("Attributes", "i2", False)])
    db.add_table("FeatureComponents", [("Feature_", "s38", True), ("Component_", "s72", True)])
    db.add_table("Property", [("Property", "s72", True), ("Value", "l0", False)])
    for name, value in [("ProductCode", product_code), ("ProductName", product_name),
                        ("ProductVersion", product_version), ("Manufacturer", manufacturer),
                        ("ProductLanguage", template.split(";")[-1].split(",")[0] or "0"),
                        ("UpgradeCode", upgrade_code)]:
        db.add_row("Property", name, value)
    db.add_row("Feature", "Complete", None, product_name, None, 1, 1, None, 0)
    used: set = set()
    components: set = set()
    specs = []
    for sequence, f in enumerate(files, start=1):
        key = f.key or _key_for(f.file_name, used)
        used.add(key)
        component = f.component or key
        if component not in components:
            components.add(component)
            db.add_row("Component", component, None, f.directory, 0, None, key)
            db.add_row("FeatureComponents", "Complete", component)
        attributes = f.attributes | (0x2000 if media == "uncompressed" else 0)
        size = f.declared_size if f.declared_size is not None else len(f.data)
        db.add_row("File", key, component, f.file_name, size, f.version, f.language, attributes or None, sequence)
        specs.append((key, f))
    built = BuiltPackage(db)
    last = len(files)
    word_count = 2
    if media == "uncompressed":
        word_count = 0
        db.add_row("Media", 1, last, None, None, None, None)
        tree = resolve_directories(directories, source=True)
        for _key, f in specs:
            built.uncompressed.append((list(tree.path_of(f.directory)[1:]) + [long_file_name(f.file_name)], f.data))
    else:
        folder = FolderSpec([FileSpec(key, f.data, f.date_time) for key, f in specs], compression=compression,
                            window_bits=window_bits)
        cabs = build_cabinet_set([folder], max_data_per_cabinet=max_cabinet_data, checksums=checksums,
                                 names=lambda i: cabinet if i == 0 else cabinet.replace(".cab", f"{i + 1}.cab"))
        if media == "embedded":
            sequences = {key: n for n, (key, _f) in enumerate(specs, start=1)}
            for disk, (name, raw) in enumerate(cabs, start=1):
                # a Media row per cabinet: its LastSequence is the last file that starts in it
                db.add_row("Media", disk, _last_started(raw, sequences, last) if disk < len(cabs) else last,
                           None, "#" + name, None, None)
                db.add_stream(name, raw)
        elif media == "external":
            db.add_row("Media", 1, last, None, cabs[0][0], None, None)
            built.cabinets.extend(cabs)
        else:
            raise ValueError(f"unknown media layout {media!r}")
    db.summary = SummaryInfo.for_msi(package_code=package_code, template=template, word_count=word_count,
                                     subject=product_name, author=manufacturer, codepage=codepage,
                                     created=created, last_saved=created,
                                     app_name="msitools fixture builder")
    return built
