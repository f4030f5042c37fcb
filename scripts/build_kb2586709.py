#!/usr/bin/env python3
"""Build fixtures/kb2586709/: a faithful, deterministic replica of the KB 2586709 hotfix.

The real binaries are Microsoft's; this replica is made from the published
file-information table alone (../shared/kb/kb2586709.txt, or the copy of its
table kept in fixtures/kb2586709/kb2586709.txt):

* ``sccm2007sp2-siteserver.msi`` — a replica base product: the six binaries in
  their older versions (4.0.6487.2000) under an i386 and an x64 folder;
* ``Sccm2007ac-sp2-kb2586709-x86-enu.msp`` — a real patch against it (a pair of
  transforms updating the File rows to the published sizes and versions; a
  cabinet carrying the six new files whole: valid PE images, machine i386 or
  AMD64, version resource 4.0.6487.2192, padded to the published sizes, dated
  01-Feb-2010 16:35), padded with a filler stream to the published 904,192 bytes;
* ``Mcs.msi`` and ``Pxe.msi`` replicas padded to their published sizes (only
  inside the hotfix);
* ``SCCM2007-SP2-2586709-X86-ENU.msi`` — the hotfix: a wrapper whose File table
  and embedded cabinet deliver Mcs.msi, Pxe.msi and the .msp;
* the published table as squashed text, HTML and CSV;
* ``tampered/``: one hotfix per finding the verifier must report.

Run: ``python scripts/build_kb2586709.py [--out DIR]``.  The output is
byte-for-byte deterministic (tests/test_kb2586709_replica.py rebuilds it).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from msitools.kb import parse_table  # noqa: E402
from msitools.testing.writer.package import PayloadFile, build_package  # noqa: E402
from msitools.testing.writer.patch import PatchBuilder  # noqa: E402
from msitools.testing.writer.pe import build_pe  # noqa: E402

OUT = ROOT / "fixtures" / "kb2586709"
HOTFIX = "SCCM2007-SP2-2586709-X86-ENU.msi"
MSP = "Sccm2007ac-sp2-kb2586709-x86-enu.msp"
BASE = "sccm2007sp2-siteserver.msi"
STAMP = dt.datetime(2010, 2, 1, 16, 35, 0)
OLD_VERSION = "4.0.6487.2000"
PATCH_CODE = "{A8D4C9B2-2586-4709-8E1F-5CC2007B0A52}"
SCCM_PRODUCT = "{A35C4E21-7C0F-4D2B-9A43-2007C0DE0002}"
SCCM_UPGRADE = "{A35C4E21-7C0F-4D2B-9A43-2007C0DEFFFF}"
COMPANY = "Microsoft Corporation"
# The published table (file information section of KB 2586709), the replica's only source of truth.
PUBLISHED = """File nameFile versionFile sizeDateTimePlatform
Mcs.msiNot Applicable7,280,64001-Feb-201016:35Not Applicable
Pxe.msiNot Applicable5,761,02401-Feb-201016:35Not Applicable
Sccm2007ac-sp2-kb2586709-x86-enu.mspNot Applicable904,19201-Feb-201016:35Not Applicable
Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86
Tsmanager.exe4.0.6487.2192246,63201-Feb-201016:35x86
Tsmbootstrap.exe4.0.6487.2192354,66401-Feb-201016:35x86
Tscore.dll4.0.6487.21922,133,86401-Feb-201016:35x64
Tsmanager.exe4.0.6487.2192375,65601-Feb-201016:35x64
Tsmbootstrap.exe4.0.6487.2192548,71201-Feb-201016:35x64
"""
SECTION = "System Center Configuration Manager 2007 file information notes"

BASE_DIRECTORIES = [
    ("TARGETDIR", None, "SourceDir"),
    ("ProgramFilesFolder", "TARGETDIR", "PFiles|Program Files"),
    ("SMSDIR", "ProgramFilesFolder", "CONFIG~1|Microsoft Configuration Manager"),
    ("BINDIR", "SMSDIR", "bin"),
    ("I386DIR", "BINDIR", "i386"),
    ("X64DIR", "BINDIR", "x64"),
]
HOTFIX_DIRECTORIES = [
    ("TARGETDIR", None, "SourceDir"),
    ("HOTFIXDIR", "TARGETDIR", "KB2586709"),
]


@dataclass
class Binary:
    name: str
    platform: str  # x86 / x64
    version: str
    size: int

    @property
    def key(self) -> str:
        return f"{self.name.split('.')[0]}_{'i386' if self.platform == 'x86' else 'x64'}"

    @property
    def directory(self) -> str:
        return "I386DIR" if self.platform == "x86" else "X64DIR"


def published_rows():
    return parse_table(PUBLISHED, "kb2586709 file information", format="squashed").rows


def pe_image(b: Binary, version: "str | None" = None, size: "int | None" = None, machine: "str | None" = None) -> bytes:
    version = version or b.version
    return build_pe(machine=machine or b.platform, file_version=version, product_version=version,
                    size=size if size is not None else b.size, timestamp=STAMP,
                    is_dll=b.name.lower().endswith(".dll"),
                    strings={"CompanyName": COMPANY, "FileDescription": f"Configuration Manager {b.name}",
                             "OriginalFilename": b.name, "ProductName": "System Center Configuration Manager"})


def binaries() -> "list[Binary]":
    return [Binary(r.name, r.platform, r.version, r.size) for r in published_rows() if r.platform in ("x86", "x64")]


def old_size(b: Binary) -> int:
    return b.size - 8192  # the RTM build was a little smaller


def base_package(version_of=lambda b: OLD_VERSION, size_of=old_size, images=None):
    files = []
    for b in binaries():
        data = images[b.key] if images else pe_image(b, version_of(b), size_of(b))
        files.append(PayloadFile(b.directory, b.name, data, key=b.key, component=b.key, version=version_of(b),
                                 language="1033"))
    return build_package(files, directories=BASE_DIRECTORIES, product_name="System Center Configuration Manager "
                         "2007 SP2 Site Server", manufacturer=COMPANY, product_code=SCCM_PRODUCT,
                         product_version="4.00.6487.2000", upgrade_code=SCCM_UPGRADE,
                         package_code="{A35C4E21-7C0F-4D2B-9A43-2007C0DE1000}", cabinet="sccm.cab",
                         sequence_width="i4")


@dataclass
class PatchVariant:
    """How a tampered patch departs from the faithful one."""

    table_version: "dict[str, str] | None" = None  # File.Version per key
    pe_version: "dict[str, str] | None" = None  # version in the PE resource per key
    size: "dict[str, int] | None" = None  # real size (and File.FileSize) per key
    machine: "dict[str, str] | None" = None  # image of another platform per key


def patch_bytes(variant: PatchVariant = PatchVariant(), target_size: int = 904192) -> bytes:
    base = base_package().database
    new_images = {}
    for b in binaries():
        size = (variant.size or {}).get(b.key, b.size)
        other = (variant.machine or {}).get(b.key)
        pe_version = (variant.pe_version or {}).get(b.key, b.version)
        if other:
            twin = next(x for x in binaries() if x.name == b.name and x.platform == other)
            new_images[b.key] = pe_image(twin, pe_version, size=twin.size)
        else:
            new_images[b.key] = pe_image(b, pe_version, size=size)
    upgraded = base.copy()
    for b in binaries():
        upgraded.set_cell("File", (b.key,), "FileSize", len(new_images[b.key]))
        upgraded.set_cell("File", (b.key,), "Version", (variant.table_version or {}).get(b.key, b.version))
    upgraded.set_cell("Property", ("ProductVersion",), "Value", "4.00.6487.2000")
    # the patch also runs a repair step as SYSTEM and records the hotfix in a property
    add_custom_actions(upgraded, [("KB2586709UpdateWinPE", 1 | DEFERRED_AS_SYSTEM, "KB2586709Dll", "UpdateWinPE",
                                   4500, "PATCH"),
                                  ("SetKB2586709", 51, "KB2586709", "1", 1500, None)],
                       [("KB2586709Dll", helper_image("KB2586709.dll"))])
    builder = PatchBuilder(PATCH_CODE, family="SCCM2007SP2", cabinet="PCW_CAB_SCCM", sequence_version="4.0.6487.2192",
                           metadata=[(None, "Classification", "Hotfix"), (None, "KBArticle Number", "KB2586709"),
                                     (None, "DisplayName", "Hotfix for Configuration Manager 2007 SP2 (KB2586709)"),
                                     (None, "ManufacturerName", COMPANY),
                                     (None, "TargetProductName", "System Center Configuration Manager 2007 SP2"),
                                     (None, "AllowRemoval", "1")],
                           summary={"title": "Hotfix for Configuration Manager 2007 SP2 (KB2586709)",
                                    "subject": "KB2586709", "author": COMPANY,
                                    "comments": "Task sequence fails with \"Failed to install WinPE\"",
                                    "created": STAMP, "last_saved": STAMP},
                           file_date_time=STAMP)
    builder.add_target(base, upgraded, "SP2ToKB2586709")
    for b in binaries():
        builder.add_file(b.key, new_images[b.key])
    return builder.database().build("msp", pad_to=target_size)


CA_COLUMNS = [("Action", "s72", True), ("Type", "i2", False), ("Source", "S72", False), ("Target", "S255", False)]
SEQUENCE_COLUMNS = [("Action", "s72", True), ("Condition", "S255", False), ("Sequence", "I2", False)]
BINARY_COLUMNS = [("Name", "s72", True), ("Data", "v0", False)]
DEFERRED_AS_SYSTEM = 0x400 | 0x800  # in-script, no impersonation


def helper_image(name: str, machine: str = "x86", dll: bool = True) -> bytes:
    """A small unsigned PE image standing for a setup helper kept in the Binary table."""
    return build_pe(machine=machine, file_version="4.0.6487.2192", product_version="4.0.6487.2192", size=6144,
                    timestamp=STAMP, is_dll=dll, strings={"OriginalFilename": name})


def add_custom_actions(db, actions, binaries=()) -> None:
    """Custom actions (action, type, source, target, sequence, condition) and the Binary rows they use."""
    if binaries:
        db.add_table("Binary", BINARY_COLUMNS)
        for key, data in binaries:
            db.add_row("Binary", key, data)
    db.add_table("CustomAction", CA_COLUMNS)
    db.add_table("InstallExecuteSequence", SEQUENCE_COLUMNS)
    for action, type_, source, target, sequence, condition in actions:
        db.add_row("CustomAction", action, type_, source, target)
        db.add_row("InstallExecuteSequence", action, condition, sequence)


# what the two installers run (a replica's stand-ins: one deferred helper as SYSTEM and one property setter each)
INSTALLER_ACTIONS = {
    "Mcs": [("McsConfigureSite", 1 | DEFERRED_AS_SYSTEM, "McsSetupDll", "ConfigureSite", 4010, "NOT Installed"),
            ("SetMcsPort", 51, "MCSPORT", "8080", 1010, None)],
    "Pxe": [("PxeRegisterService", 2 | DEFERRED_AS_SYSTEM, "PxeSetupExe", "/register", 4020, "NOT REMOVE"),
            ("SetPxeRoot", 35, "PXEROOT", "[ProgramFilesFolder]Pxe", 1020, None)],
}


def padded_msi(name: str, size: int, product_code: str) -> bytes:
    built = build_package([PayloadFile("ProgramFilesFolder", "readme.txt", f"{name} replica\r\n".encode())],
                          product_name=f"Configuration Manager 2007 SP2 {name} replica", manufacturer=COMPANY,
                          product_code=product_code, package_code=product_code.replace("-0000", "-1000"))
    key = INSTALLER_ACTIONS[name][0][2]
    add_custom_actions(built.database, INSTALLER_ACTIONS[name],
                       [(key, helper_image(f"{key}.{'dll' if key.endswith('Dll') else 'exe'}",
                                           dll=key.endswith("Dll")))])
    return built.database.build("msi", pad_to=size)


def hotfix_bytes(msp: bytes, *, drop=(), extra=()) -> bytes:
    rows = {r.name: r for r in published_rows() if r.platform == "Not Applicable"}
    payloads = {
        "Mcs.msi": padded_msi("Mcs", rows["Mcs.msi"].size, "{A35C4E21-7C0F-4D2B-9A43-00000000C001}"),
        "Pxe.msi": padded_msi("Pxe", rows["Pxe.msi"].size, "{A35C4E21-7C0F-4D2B-9A43-00000000C002}"),
        MSP: msp,
    }
    files = [PayloadFile("HOTFIXDIR", name, data, key=name) for name, data in payloads.items() if name not in drop]
    files += [PayloadFile("HOTFIXDIR", name, data, key=name) for name, data in extra]
    built = build_package(files, directories=HOTFIX_DIRECTORIES,
                          product_name="System Center Configuration Manager 2007 SP2 KB2586709 hotfix",
                          manufacturer=COMPANY, product_code="{A35C4E21-7C0F-4D2B-9A43-2586709000F1}",
                          package_code="{A35C4E21-7C0F-4D2B-9A43-2586709000AA}", cabinet="hotfix.cab")
    return built.database.build("msi")


def table_forms() -> "dict[str, str]":
    rows = published_rows()
    html_rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in (r.name, r.version, f"{r.size:,}", r.date, r.time,
                                                               r.platform)) + "</tr>" for r in rows)
    page = (f"<html><body><h3>File information</h3><p>{html.escape(SECTION)}</p>\n<table>\n"
            "<tr><th>File name</th><th>File version</th><th>File size</th><th>Date</th><th>Time</th>"
            f"<th>Platform</th></tr>\n{html_rows}\n</table></body></html>\n")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["File name", "File version", "File size", "Date", "Time", "Platform"])
    for r in rows:
        writer.writerow([r.name, r.version, f"{r.size:,}", r.date, r.time, r.platform])
    return {"kb2586709.txt": f"{SECTION}\n{PUBLISHED}", "kb2586709.html": page, "kb2586709.csv": buf.getvalue()}


TAMPERED = {
    "version-off-by-one": ("Tscore.dll (x86) is 4.0.6487.2193, in its PE resource and its File row",
                           PatchVariant(table_version={"Tscore_i386": "4.0.6487.2193"},
                                        pe_version={"Tscore_i386": "4.0.6487.2193"}), {}),
    "size-off": ("Tsmanager.exe (x64) is one byte longer than published", PatchVariant(size={"Tsmanager_x64": 375657}),
                 {}),
    "x64-in-x86-slot": ("the x64 Tscore.dll image is delivered where the x86 one belongs",
                        PatchVariant(machine={"Tscore_i386": "x64"}), {}),
    "extra-file": ("the hotfix also delivers ReadMe.txt, which the table does not list", PatchVariant(),
                   {"extra": [("ReadMe.txt", b"Unlisted file.\r\n")]}),
    "missing-file": ("the hotfix does not deliver Pxe.msi", PatchVariant(), {"drop": ["Pxe.msi"]}),
    "file-table-disagrees": ("Tsmbootstrap.exe (x86): File table says 4.0.6487.2192, the PE resource 4.0.6487.2191",
                             PatchVariant(pe_version={"Tsmbootstrap_i386": "4.0.6487.2191"}), {}),
}


def build(out: Path = OUT) -> "dict[str, bytes]":
    out.mkdir(parents=True, exist_ok=True)
    (out / "tampered").mkdir(exist_ok=True)
    written: dict[str, bytes] = {}

    def put(rel: str, data: bytes) -> None:
        (out / rel).write_bytes(data)
        written[rel] = data

    put(BASE, base_package().database.build("msi"))
    msp = patch_bytes()
    put(MSP, msp)
    put(HOTFIX, hotfix_bytes(msp))
    for name, text in table_forms().items():
        put(name, text.encode("utf-8"))
    described = {}
    for name, (what, variant, wrapper) in TAMPERED.items():
        tampered_msp = patch_bytes(variant) if variant != PatchVariant() else msp
        put(f"tampered/{name}.msi", hotfix_bytes(tampered_msp, **wrapper))
        described[name] = what
    put("tampered/README.json", (json.dumps(described, indent=2) + "\n").encode())
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for rel, data in build(args.out).items():
        print(f"{rel}: {len(data):,} bytes")


if __name__ == "__main__":
    main()
