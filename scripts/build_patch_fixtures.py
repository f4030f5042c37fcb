#!/usr/bin/env python3
"""Build the patch/transform fixtures in fixtures/patches/ (deterministic).

    python scripts/build_patch_fixtures.py [OUTPUT_DIR]

Writes:

* ``base.msi``  — a small product: Directory tree (TARGETDIR, ProgramFilesFolder,
  INSTALLDIR ``short|long``, BINDIR ``target:source``), Feature, Components,
  4 files (two PE DLLs from :func:`msitools.testing.writer.pe.build_pe`) in an embedded
  MSZIP cabinet ``#product.cab``, Property, Registry, MsiFileHash, a
  CustomAction and InstallExecuteSequence;
* ``base2.msi`` — a second product (another ProductCode, one more file);
* ``change.mst`` — standalone transform against base.msi: creates
  ``Environment`` (2 rows) and ``Binary`` (1 row with a binary cell), deletes
  Registry row ``RegPath``, changes Property ``ProductName``;
* ``whole.msp`` — 1.0.0 -> 1.0.1: core.dll and readme.txt updated, plugin.dll
  added (new File, Component, FeatureComponents rows), ProductVersion and a
  Registry value changed; the three whole files in ``PCW_CAB_Whole``;
* ``delta.msp`` — 1.0.0 -> 1.0.2: PA19 deltas for core.dll (header in the
  ``Patch.Header`` stream) and helper.dll (header in ``MsiPatchHeaders``,
  ``Patch.StreamRef_``) and a PA30 delta for config.xml (no header); **delta
  payloads are placeholders** (headers are real, the files cannot be applied);
* ``two-targets.msp`` — one patch for base.msi and base2.msi (two transform
  pairs) sharing one cabinet;
* ``expected.json`` — what each fixture is meant to change, written from the
  builders (the target databases), never from the produced files.

Everything is fixed (GUIDs, times, PE contents), so the bytes never change;
tests/test_writer_transform_fixtures.py rebuilds them and compares.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet  # noqa: E402
from msitools.testing.writer.database import DatabaseBuilder  # noqa: E402
from msitools.testing.writer.delta import PA19Delta, PA30Delta, posix_to_filetime  # noqa: E402
from msitools.testing.writer.patch import PatchBuilder, changed_tables, summary_dict, table_dict  # noqa: E402
from msitools.testing.writer.pe import build_pe  # noqa: E402
from msitools.testing.writer.summary import (
    ERROR_ADDEXISTINGROW,
    ERROR_DELMISSINGROW,
    VALIDATE_PRODUCT,
    VALIDATE_UPGRADECODE,
    SummaryInfo,
)
from msitools.testing.writer.transform import TransformWriter, transform_summary  # noqa: E402

OUTPUT = ROOT / "fixtures" / "patches"
TIME = dt.datetime(2011, 5, 13, 21, 11, 54)
TIME_UPDATE = dt.datetime(2012, 2, 1, 10, 0, 0)
APP = "msitools fixture builder"
UPGRADE_CODE = "{6F1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D}"
PRODUCT_CODE = "{1D6D3A50-9C2B-4C0E-9A8F-0B1C2D3E4F50}"
PRODUCT_CODE_2 = "{2E7E4B61-AD3C-4D1F-AB90-1C2D3E4F5061}"
PACKAGE_CODES = {
    "base": "{A0000001-0000-4000-8000-000000000001}",
    "base2": "{A0000002-0000-4000-8000-000000000002}",
    "whole": "{A0000003-0000-4000-8000-000000000003}",
    "delta": "{A0000004-0000-4000-8000-000000000004}",
    "two-base": "{A0000005-0000-4000-8000-000000000005}",
    "two-base2": "{A0000006-0000-4000-8000-000000000006}",
}
PATCH_CODES = {
    "whole": "{B0000001-1111-4111-8111-111111111111}",
    "delta": "{B0000002-2222-4222-8222-222222222222}",
    "two-targets": "{B0000003-3333-4333-8333-333333333333}",
}
OBSOLETED = "{B0000000-0000-4000-8000-0000000000FF}"
COMPONENT_IDS = {
    "MainComp": "{C0000001-0000-4000-8000-000000000001}",
    "BinComp": "{C0000002-0000-4000-8000-000000000002}",
    "HelperComp": "{C0000003-0000-4000-8000-000000000003}",
    "ConfigComp": "{C0000004-0000-4000-8000-000000000004}",
    "ExtraComp": "{C0000005-0000-4000-8000-000000000005}",
    "PluginComp": "{C0000006-0000-4000-8000-000000000006}",
}


# ------------------------------------------------------------------------------------------------
# file contents


def text_file(lines: "list[str]") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def pe(name: str, machine: str, version: str, size: int) -> bytes:
    return build_pe(machine, version, None, size, TIME, True,
                    {"FileDescription": f"msitools fixture {machine} DLL", "CompanyName": "msitools fixtures",
                     "OriginalFilename": name})


FILES_V100 = {
    "readme.txt": text_file(["Fixture Product 1.0.0", "This is the read-me file of the fixture product."]),
    "core.dll": pe("core.dll", "x86", "1.0.0.0", 2048),
    "helper.dll": pe("helper.dll", "x64", "1.0.0.0", 2560),
    "config.xml": text_file(['<?xml version="1.0"?>', '<config version="1.0.0" level="basic"/>']),
}
EXTRA_FILE = text_file(["Only the second product has this file."])
FILES_V101 = {
    "readme.txt": text_file(["Fixture Product 1.0.1", "This is the read-me file of the fixture product.",
                             "Changes: core.dll 1.0.1.0, new plugin.dll."]),
    "core.dll": pe("core.dll", "x86", "1.0.1.0", 2560),
    "plugin.dll": pe("plugin.dll", "x86", "1.0.1.0", 2048),
}
FILES_V102 = {
    "core.dll": pe("core.dll", "x86", "1.0.2.0", 3072),
    "helper.dll": pe("helper.dll", "x64", "1.0.2.0", 2560),
    "config.xml": text_file(['<?xml version="1.0"?>', '<config version="1.0.2" level="extended" cache="on"/>']),
}
VERSIONED = {"core.dll", "helper.dll", "plugin.dll"}


def file_hash(data: bytes) -> "tuple[int, int, int, int]":
    return struct.unpack("<4i", hashlib.md5(data).digest())


# ------------------------------------------------------------------------------------------------
# products


def product(kind: str) -> DatabaseBuilder:
    """base.msi (kind "base") or base2.msi (kind "base2")."""
    second = kind == "base2"
    db = DatabaseBuilder(1252)
    name = "Fixture Product Two" if second else "Fixture Product"
    db.summary = SummaryInfo.for_msi(
        package_code=PACKAGE_CODES[kind], template="Intel;1033", page_count=200, word_count=2,
        subject=name, author="msitools fixtures", keywords="Installer,Fixture",
        comments=f"{name}: small product used by the patch and transform tests",
        created=TIME, last_saved=TIME, app_name=APP)

    db.add_table("Directory", [("Directory", "s72", True), ("Directory_Parent", "S72"), ("DefaultDir", "l255")])
    db.add_rows("Directory", [
        ("TARGETDIR", None, "SourceDir"),
        ("ProgramFilesFolder", "TARGETDIR", "."),
        ("INSTALLDIR", "ProgramFilesFolder", "FIXTUR~1|Fixture Product" if not second else "FIXTUR~2|Fixture Product Two"),
        ("BINDIR", "INSTALLDIR", "bin:SOURCE~1|source bin"),
    ])
    db.add_table("Feature", [("Feature", "s38", True), ("Feature_Parent", "S38"), ("Title", "L64"),
                             ("Description", "L255"), ("Display", "I2"), ("Level", "i2"),
                             ("Directory_", "S72"), ("Attributes", "i2")])
    db.add_row("Feature", "Complete", None, name, "Everything", 1, 1, "INSTALLDIR", 0)
    db.add_table("Component", [("Component", "s72", True), ("ComponentId", "S38"), ("Directory_", "s72"),
                               ("Attributes", "i2"), ("Condition", "S255"), ("KeyPath", "S72")])
    components = [("MainComp", "INSTALLDIR", 0, "readme.txt"), ("BinComp", "BINDIR", 0, "core.dll"),
                  ("HelperComp", "BINDIR", 0x100, "helper.dll"), ("ConfigComp", "INSTALLDIR", 0, "config.xml")]
    if second:
        components.append(("ExtraComp", "INSTALLDIR", 0, "extra.txt"))
    for comp, directory, attributes, keypath in components:
        db.add_row("Component", comp, COMPONENT_IDS[comp], directory, attributes, None, keypath)
    db.add_table("FeatureComponents", [("Feature_", "s38", True), ("Component_", "s72", True)])
    for comp, *_ in components:
        db.add_row("FeatureComponents", "Complete", comp)

    db.add_table("File", [("File", "s72", True), ("Component_", "s72"), ("FileName", "l255"),
                          ("FileSize", "i4"), ("Version", "S72"), ("Language", "S20"),
                          ("Attributes", "I2"), ("Sequence", "i2")])
    files = [("readme.txt", "MainComp", "readme.txt", FILES_V100["readme.txt"]),
             ("core.dll", "BinComp", "core.dll", FILES_V100["core.dll"]),
             ("helper.dll", "HelperComp", "helper.dll", FILES_V100["helper.dll"]),
             ("config.xml", "ConfigComp", "CONFIG~1.XML|config.xml", FILES_V100["config.xml"])]
    if second:
        files.append(("extra.txt", "ExtraComp", "extra.txt", EXTRA_FILE))
    cab_files = []
    db.add_table("MsiFileHash", [("File_", "s72", True), ("Options", "i2"), ("HashPart1", "i4"),
                                 ("HashPart2", "i4"), ("HashPart3", "i4"), ("HashPart4", "i4")])
    for seq, (key, comp, file_name, data) in enumerate(files, start=1):
        versioned = key in VERSIONED
        db.add_row("File", key, comp, file_name, len(data), "1.0.0.0" if versioned else None,
                   "1033" if versioned else None, 0x200, seq)
        if not versioned:
            db.add_row("MsiFileHash", key, 0, *file_hash(data))
        cab_files.append(FileSpec(key, data, TIME))
    db.add_table("Media", [("DiskId", "i2", True), ("LastSequence", "i4"), ("DiskPrompt", "L64"),
                           ("Cabinet", "S255"), ("VolumeLabel", "S32"), ("Source", "S72")])
    db.add_row("Media", 1, len(files), None, "#product.cab", None, None)
    db.add_stream("product.cab", build_cabinet([FolderSpec(cab_files, compression="mszip")]))

    db.add_table("Property", [("Property", "s72", True), ("Value", "l0")])
    db.add_rows("Property", [
        ("ProductCode", PRODUCT_CODE_2 if second else PRODUCT_CODE),
        ("ProductVersion", "1.0.0"),
        ("UpgradeCode", UPGRADE_CODE),
        ("ProductName", name),
        ("Manufacturer", "msitools fixtures"),
        ("ProductLanguage", "1033"),
        ("ALLUSERS", "1"),
    ])
    db.add_table("Registry", [("Registry", "s72", True), ("Root", "i2"), ("Key", "l255"), ("Name", "L255"),
                              ("Value", "L0"), ("Component_", "s72")])
    db.add_rows("Registry", [
        ("RegVersion", 2, "Software\\msitools\\Fixture", "Version", "1.0.0", "MainComp"),
        ("RegPath", 2, "Software\\msitools\\Fixture", "InstallDir", "[INSTALLDIR]", "MainComp"),
    ])
    db.add_table("CustomAction", [("Action", "s72", True), ("Type", "i2"), ("Source", "S72"), ("Target", "S255")])
    db.add_row("CustomAction", "SetInstallMarker", 51, "INSTALLMARKER", "[ProductVersion]")
    db.add_table("InstallExecuteSequence", [("Action", "s72", True), ("Condition", "S255"), ("Sequence", "I2")])
    db.add_rows("InstallExecuteSequence", [
        ("CostInitialize", None, 800), ("FileCost", None, 900), ("CostFinalize", None, 1000),
        ("SetInstallMarker", None, 1001), ("InstallValidate", None, 1400), ("InstallInitialize", None, 1500),
        ("ProcessComponents", None, 1600), ("RemoveRegistryValues", None, 2600), ("RemoveFiles", None, 3500),
        ("InstallFiles", None, 4000), ("WriteRegistryValues", None, 5000), ("RegisterProduct", None, 6100),
        ("PublishFeatures", None, 6300), ("PublishProduct", None, 6400),
        ("InstallFinalize", "NOT REMOVE OR REMOVE", 6600),
    ])
    return db


def upgrade(db: DatabaseBuilder, version: str, package_code: str, files: "dict[str, bytes]",
            new_files: "dict[str, tuple[str, str]]" = ()) -> DatabaseBuilder:
    """An upgraded image of *db*: new ProductVersion, package code and file contents.

    *new_files* maps a new File key to (Component, Directory)."""
    new = db.copy()
    new.summary = copy.deepcopy(db.summary)
    new.summary.revision = package_code
    new.summary.last_saved = TIME_UPDATE
    new.set_cell("Property", ("ProductVersion",), "Value", version)
    new.set_cell("Registry", ("RegVersion",), "Value", version)
    next_sequence = max(r[7] for r in new.tables["File"].rows.values()) + 1
    for key, data in files.items():
        versioned = key in VERSIONED
        file_version = version + ".0" if versioned else None
        if (key,) in new.tables["File"].rows:
            new.set_cell("File", (key,), "FileSize", len(data))
            new.set_cell("File", (key,), "Version", file_version)
        else:
            comp, directory = dict(new_files)[key]
            new.add_row("Component", comp, COMPONENT_IDS[comp], directory, 0, None, key)
            new.add_row("FeatureComponents", "Complete", comp)
            new.add_row("File", key, comp, key, len(data), file_version, "1033" if versioned else None,
                        0x200, next_sequence)
            next_sequence += 1
        if not versioned:
            hashes = file_hash(data)
            if (key,) in new.tables["MsiFileHash"].rows:
                for i, part in enumerate(hashes, start=1):
                    new.set_cell("MsiFileHash", (key,), f"HashPart{i}", part)
            else:
                new.add_row("MsiFileHash", key, 0, *hashes)
    return new


# ------------------------------------------------------------------------------------------------
# transforms and patches


def change_transform(base: DatabaseBuilder) -> "tuple[TransformWriter, DatabaseBuilder]":
    target = base.copy()
    target.summary = copy.deepcopy(base.summary)
    target.add_table("Environment", [("Environment", "s72", True), ("Name", "l255"), ("Value", "L255"),
                                     ("Component_", "s72")])
    target.add_rows("Environment", [
        ("EnvPath", "=-*PATH", "[~];[BINDIR]", "BinComp"),
        ("EnvHome", "=-FIXTURE_HOME", "[INSTALLDIR]", "MainComp"),
    ])
    target.add_table("Binary", [("Name", "s72", True), ("Data", "v0")])
    target.add_row("Binary", "FixtureBlob", b"\x00\x01\x02binary cell carried by change.mst\xff")
    target.remove_row("Registry", "RegPath")
    target.set_cell("Property", ("ProductName",), "Value", "Fixture Product (customised)")
    summary = transform_summary(base, target, validation=VALIDATE_PRODUCT | VALIDATE_UPGRADECODE,
                                error_conditions=ERROR_ADDEXISTINGROW | ERROR_DELMISSINGROW,
                                title="Transform", author="msitools fixtures")
    return TransformWriter.from_diff(base, target, summary=summary), target


def patch_summary(description: str) -> dict:
    return dict(subject=f"Fixture Product {description}", author="msitools fixtures",
                keywords="PatchSourceList", comments=f"{description} for the fixture product",
                created=TIME_UPDATE, last_saved=TIME_UPDATE, app_name=APP)


def metadata(description: str) -> list:
    return [(None, "AllowRemoval", "1"), (None, "Classification", "Update"),
            (None, "CreationTimeUTC", "02-01-12 10:00"), (None, "Description", description),
            (None, "DisplayName", f"Fixture Product {description}"),
            (None, "ManufacturerName", "msitools fixtures"), (None, "TargetProductName", "Fixture Product"),
            ("msitools fixtures", "FixtureNote", "company-specific metadata row")]


def whole_patch(base: DatabaseBuilder) -> PatchBuilder:
    upgraded = upgrade(base, "1.0.1", PACKAGE_CODES["whole"], FILES_V101,
                       {"plugin.dll": ("PluginComp", "BINDIR")})
    builder = PatchBuilder(PATCH_CODES["whole"], family="FixtureWhole", cabinet="PCW_CAB_Whole",
                           obsoletes=[OBSOLETED], sequence_version="1.0.1", metadata=metadata("Update 1.0.1"),
                           summary=patch_summary("Update 1.0.1"))
    builder.add_target(base, upgraded, "Target01ToUpgrade01", label="base.msi")
    for key in ("readme.txt", "core.dll", "plugin.dll"):
        builder.add_file(key, FILES_V101[key])
    return builder


DELTA_TIMESTAMP = int(dt.datetime(2012, 3, 1, 8, 30, tzinfo=dt.timezone.utc).timestamp())


def delta_patch(base: DatabaseBuilder) -> PatchBuilder:
    upgraded = upgrade(base, "1.0.2", PACKAGE_CODES["delta"], FILES_V102)
    builder = PatchBuilder(PATCH_CODES["delta"], family="FixtureDelta", cabinet="PCW_CAB_Delta",
                           sequence_version="1.0.2", metadata=metadata("Update 1.0.2 (deltas)"),
                           summary=patch_summary("Update 1.0.2 (deltas)"), sequence_product_specific=True,
                           sequence_attributes=1)
    builder.add_target(base, upgraded, "T1ToU1", label="base.msi")
    core = PA19Delta.between(FILES_V100["core.dll"], FILES_V102["core.dll"], timestamp=DELTA_TIMESTAMP,
                             rebase=0x10000000)
    helper = PA19Delta.between(FILES_V100["helper.dll"], FILES_V102["helper.dll"])
    config = PA30Delta.for_target(FILES_V102["config.xml"], posix_to_filetime(DELTA_TIMESTAMP))
    builder.add_delta("core.dll", core.to_bytes(), header=core.header_extract(), info=core.describe())
    builder.add_delta("helper.dll", helper.to_bytes(), header=helper.header_extract(),
                      stream_ref="helper.dll.hdr", info=helper.describe())
    builder.add_delta("config.xml", config.to_bytes(), info=config.describe())
    return builder


def two_target_patch(base: DatabaseBuilder, base2: DatabaseBuilder) -> PatchBuilder:
    files = {k: FILES_V101[k] for k in ("readme.txt", "core.dll")}
    builder = PatchBuilder(PATCH_CODES["two-targets"], family="FixtureTwo", cabinet="PCW_CAB_Shared",
                           sequence_version="1.0.1", metadata=metadata("Update 1.0.1 for both products"),
                           summary=patch_summary("Update 1.0.1 for both products"))
    builder.add_target(base, upgrade(base, "1.0.1", PACKAGE_CODES["two-base"], files),
                       "Target01ToUpgrade01", label="base.msi")
    builder.add_target(base2, upgrade(base2, "1.0.1", PACKAGE_CODES["two-base2"], files),
                       "Target02ToUpgrade02", label="base2.msi")
    for key, data in files.items():
        builder.add_file(key, data)
    return builder


# ------------------------------------------------------------------------------------------------
# descriptions


def product_facts(db: DatabaseBuilder) -> dict:
    props = {k[0]: r[1] for k, r in db.tables["Property"].rows.items()}
    files = db.tables["File"]
    return {
        "product_code": props["ProductCode"],
        "product_version": props["ProductVersion"],
        "upgrade_code": props["UpgradeCode"],
        "package_code": db.summary.revision,
        "cabinet": "product.cab",
        "files": {row[0]: {"size": row[3], "version": row[4], "sequence": row[7]} for row in files.rows.values()},
        "tables": {name: table_dict(model) for name, model in sorted(db.tables.items())},
    }


def to_json(value):
    if isinstance(value, bytes):
        return {"hex": value.hex(), "size": len(value), "crc32": zlib.crc32(value)}
    raise TypeError(f"cannot describe {type(value).__name__}")


def _is_flat(value) -> bool:
    if isinstance(value, list):
        return all(not isinstance(v, (list, dict)) or (isinstance(v, dict) and "hex" in v) for v in value)
    if isinstance(value, dict):
        return all(not isinstance(v, (list, dict)) for v in value.values())
    return True


def dump_json(value, indent: int = 0) -> str:
    """JSON with one line per row / column / flat object, so the file stays readable in diffs."""
    value = json.loads(json.dumps(value, default=to_json))
    return _dump(value, indent) + "\n"


def _dump(value, indent: int) -> str:
    pad = " " * (indent + 1)
    if _is_flat(value) or not isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, list):
        items = [pad + _dump(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [pad + json.dumps(k) + ": " + _dump(v, indent + 1) for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def build_all() -> "tuple[dict[str, bytes], dict]":
    """Every fixture's bytes and the expected.json content."""
    base = product("base")
    base2 = product("base2")
    change, change_target = change_transform(base)
    whole = whole_patch(base)
    delta = delta_patch(base)
    two = two_target_patch(base, base2)

    outputs = {
        "base.msi": base.build("msi"),
        "base2.msi": base2.build("msi"),
        "change.mst": change.build(),
        "whole.msp": whole.build(),
        "delta.msp": delta.build(),
        "two-targets.msp": two.build(),
    }
    expected = {
        "about": ("Intent of each fixture, written by scripts/build_patch_fixtures.py from the builders "
                  "(target databases), not from the produced files. Binary cells are "
                  "{stream, size, crc32, hex}: stream = the logical name Table.key1.key2 of the data "
                  "stream (inside the transform storage that carries the row). Table rows are full rows in column order, sorted by key. "
                  "patched_tables lists, in full, every table that differs after applying the "
                  "transform(s) to the base. Delta payloads are placeholders (headers are real)."),
        "products": {"base.msi": product_facts(base), "base2.msi": product_facts(base2)},
        "change.mst": {
            "kind": "mst",
            "base": "base.msi",
            "summary": summary_dict(change.summary),
            "changes": change.describe(),
            "patched_tables": changed_tables(base, change_target),
            "dropped_tables": sorted(set(base.tables) - set(change_target.tables)),
        },
        "whole.msp": whole.describe(),
        "delta.msp": delta.describe(),
        "two-targets.msp": two.describe(),
    }
    outputs["expected.json"] = dump_json(expected).encode("ascii")
    return outputs, expected


def main(argv: "list[str]") -> int:
    out = Path(argv[1]) if len(argv) > 1 else OUTPUT
    out.mkdir(parents=True, exist_ok=True)
    outputs, _ = build_all()
    for name, data in outputs.items():
        (out / name).write_bytes(data)
        print(f"{name:18} {len(data):8} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
