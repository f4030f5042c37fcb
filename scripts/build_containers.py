#!/usr/bin/env python3
"""Build the container replicas: a SQL Server-style cumulative update, a Windows update (.msu), a Burn bundle.

Each is made from a published file-information table alone, like fixtures/kb2586709:

* ``fixtures/sqlcu/SQLServer2017-KB4515579-x64.exe`` — a self-extracting executable (an x64
  stub with a cabinet appended) from the SQL Server 2017 CU17 table kept in
  fixtures/kb/real/sql2017-cu17-kb4515579.md: the cabinet holds a setup folder
  (``x64/setup/``: the two files of the table's ``sql_shared_mr`` section) and one patch per
  chosen feature section (``sql_dreplay_client`` and ``sql_dreplay_controller``), each a
  real .msp against a replica base whose PCW_CAB cabinet carries PE images of the published
  machine, version and size; ``tampered/`` holds one update per finding;
* ``fixtures/msu/Windows6.1-KB976398-x64.msu`` — from the x64 sections of
  fixtures/kb/real/win7-kb976398.md: the update's cabinet (component folders with the
  images, manifests and the package .mum), its .xml, pkgProperties and WSUSSCAN.cab;
  ``Windows6.1-KB976398-x64-express.msu`` carries the images as deltas (``r``/``f`` folders);
* ``fixtures/burn/FixtureBundle.exe`` — a Burn bundle (``.wixburn`` section, UX container
  with the manifest and the bootstrapper application, attached container with a product
  .msi) and its published table ``fixtures/burn/table.md``.

Run: ``python scripts/build_containers.py [--out ROOT]`` (ROOT defaults to fixtures/).
The output is byte-for-byte deterministic (the tests rebuild it and compare).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from msitools.kb import parse_file  # noqa: E402
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet  # noqa: E402
from msitools.testing.writer.exe import build_burn, build_sfx  # noqa: E402
from msitools.testing.writer.package import PayloadFile, build_package  # noqa: E402
from msitools.testing.writer.patch import PatchBuilder  # noqa: E402
from msitools.testing.writer.pe import build_pe  # noqa: E402

SQL_TABLE = ROOT / "fixtures" / "kb" / "real" / "sql2017-cu17-kb4515579.md"
SQL_SECTIONS = ("sql_dreplay_client", "sql_dreplay_controller")
SQL_SETUP_SECTION = "sql_shared_mr"
SQL_EXE = "SQLServer2017-KB4515579-x64.exe"
MSU_TABLE = ROOT / "fixtures" / "kb" / "real" / "win7-kb976398.md"
MSU = "Windows6.1-KB976398-x64.msu"
COMPANY = "Microsoft Corporation"


@dataclass(frozen=True)
class Image:
    name: str
    version: str
    size: int
    platform: str
    stamp: dt.datetime


def _stamp(date: str | None, time: str | None, year: int) -> dt.datetime:
    day, month = (int(x) for x in (date or "1-1").split("-")[:2]) if date and date.count("-") == 1 else (1, 1)
    if date and date.count("-") == 2:  # 22-Oct-2009
        parsed = dt.datetime.strptime(date, "%d-%b-%Y")
        day, month, year = parsed.day, parsed.month, parsed.year
    hour, minute = (int(x) for x in (time or "00:00").split(":")[:2])
    return dt.datetime(year, month, day, hour, minute)


def pe(image: Image, version: str | None = None, size: int | None = None, machine: str | None = None) -> bytes:
    v = version or image.version
    return build_pe(machine=machine or image.platform, file_version=v, product_version=v,
                    size=size if size is not None else image.size, timestamp=image.stamp,
                    is_dll=image.name.lower().endswith(".dll"),
                    strings={"CompanyName": COMPANY, "OriginalFilename": image.name,
                             "FileDescription": f"{image.name} (replica)", "ProductName": "Microsoft SQL Server"})


# -- SQL Server cumulative update ---------------------------------------------------------------
def sql_images(section: str) -> list[Image]:
    table = parse_file(SQL_TABLE)
    return [Image(r.name, r.version, r.size, r.platform, _stamp(r.date, r.time, 2019)) for r in table.rows
            if r.section.endswith(section)]


def _rtm_version(version: str) -> str:
    """The version a file had before the update (one lower): the patch changes File.Version, as real ones do."""
    parts = [int(p) for p in version.split(".")]
    at = len(parts) - 1 if parts[-1] > 0 else len(parts) - 2
    parts[at] = max(0, parts[at] - 1)
    return ".".join(map(str, parts))


@dataclass
class Variant:
    """How a tampered update departs from the faithful one (keys are (feature, file name, platform))."""

    size: dict | None = None
    version: dict | None = None
    machine: dict | None = None
    drop: tuple = ()
    extra: tuple = ()


def feature_patch(feature: str, index: int, variant: Variant) -> bytes:
    images = sql_images(feature)
    keys = [f"{img.name.split('.')[0]}_{img.platform}" for img in images]
    rtm = {img.name: _rtm_version(img.version) for img in images}
    old = [build_package([PayloadFile("BINDIR", img.name, pe(img, version=rtm[img.name], size=img.size - 4096),
                                      key=key, component=key, version=rtm[img.name], language="1033")
                          for img, key in zip(images, keys)],
        directories=[("TARGETDIR", None, "SourceDir"), ("ProgramFilesFolder", "TARGETDIR", "PFiles|Program Files"),
                     ("SQLDIR", "ProgramFilesFolder", "MICROS~1|Microsoft SQL Server"),
                     ("BINDIR", "SQLDIR", "140\\\\DReplay")],
        product_name=f"SQL Server 2017 {feature}", manufacturer=COMPANY,
        product_code=f"{{A1B2C3D4-2017-4000-8000-00000000000{index}}}", product_version="14.0.1000.169",
        upgrade_code=f"{{A1B2C3D4-2017-4000-8000-0000000000F{index}}}",
        package_code=f"{{A1B2C3D4-2017-4000-8000-0000000000A{index}}}", cabinet="sql.cab")]
    base = old[0].database
    upgraded = base.copy()
    new_images = {}
    for img, key in zip(images, keys):
        ident = (feature, img.name, img.platform)
        size = (variant.size or {}).get(ident, img.size)
        version = (variant.version or {}).get(ident, img.version)
        machine = (variant.machine or {}).get(ident, img.platform)
        new_images[key] = pe(img, version=version, size=size, machine=machine)
        upgraded.set_cell("File", (key,), "FileSize", len(new_images[key]))
        upgraded.set_cell("File", (key,), "Version", version)
    upgraded.set_cell("Property", ("ProductVersion",), "Value", "14.0.3238.1")
    builder = PatchBuilder(f"{{B1C2D3E4-4515-4579-8000-00000000000{index}}}", family=f"SQL2017_{feature}",
                           cabinet=f"PCW_CAB_{feature}", sequence_version="14.0.3238.1",
                           metadata=[(None, "KBArticle Number", "KB4515579"), (None, "Classification", "Update"),
                                     (None, "DisplayName", f"SQL Server 2017 CU17 ({feature})"),
                                     (None, "ManufacturerName", COMPANY)],
                           summary={"title": f"SQL Server 2017 CU17 {feature}", "subject": "KB4515579",
                                    "author": COMPANY, "created": dt.datetime(2019, 10, 8),
                                    "last_saved": dt.datetime(2019, 10, 8)},
                           file_date_time=dt.datetime(2019, 9, 14, 2, 54))
    builder.add_target(base, upgraded, f"RTMToCU17_{index}")
    for img, key in zip(images, keys):
        if (feature, img.name, img.platform) not in variant.drop:
            builder.add_file(key, new_images[key])
    return builder.database().build("msp")


def sql_update(variant: Variant = Variant()) -> bytes:
    setup = [FileSpec(f"x64\\setup\\{img.name}", pe(img), img.stamp) for img in sql_images(SQL_SETUP_SECTION)]
    patches = [FileSpec(f"x64\\{feature}.msp", feature_patch(feature, n + 1, variant), dt.datetime(2019, 10, 8))
               for n, feature in enumerate(SQL_SECTIONS)]
    extra = [FileSpec(name, data, dt.datetime(2019, 10, 8)) for name, data in variant.extra]
    cabinet = build_cabinet([FolderSpec(setup + patches + extra, compression="mszip")])
    return build_sfx([cabinet], machine="x64", version="14.0.3238.1", name=SQL_EXE)


SQL_TAMPERED = {
    "size-off": ("Dreplaycontroller.exe (x86) is one byte longer than published",
                 Variant(size={("sql_dreplay_controller", "Dreplaycontroller.exe", "x86"): 350313})),
    "version-off-by-one": ("Dreplayclient.exe (x86) is 2017.140.3238.2",
                           Variant(version={("sql_dreplay_client", "Dreplayclient.exe", "x86"): "2017.140.3238.2"})),
    "x64-in-x86-slot": ("Dreplayutil.dll is an x64 image where the table publishes x86",
                        Variant(machine={("sql_dreplay_client", "Dreplayutil.dll", "x86"): "x64"})),
    "missing-file": ("the controller patch does not carry Dreplayprocess.dll",
                     Variant(drop=(("sql_dreplay_controller", "Dreplayprocess.dll", "x86"),))),
    "extra-file": ("the update also delivers ReadMe.txt, which the table does not list",
                   Variant(extra=(("ReadMe.txt", b"Unlisted file.\r\n"),))),
}


# -- Windows update (.msu) ------------------------------------------------------------------------
def msu_rows():
    table = parse_file(MSU_TABLE)
    return [r for r in table.rows if "x64-based" in r.section]


def _text_file(name: str, size: int, stamp: dt.datetime) -> bytes:
    head = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- {name}: replica of {stamp:%d-%b-%Y} -->\r\n"
            ).encode()
    return head + b" " * (size - len(head) - 2) + b"\r\n"


def msu(express: bool = False) -> bytes:
    members = []
    for r in msu_rows():
        stamp = _stamp(r.date, r.time, 2009)
        if r.name.lower().endswith(".dll"):
            prefix = "amd64" if r.platform == "x64" else "wow64"
            folder = next(x.name for x in msu_rows() if x.name.lower().startswith(prefix)
                          and x.name.endswith(".manifest"))[:-len(".manifest")]
            image = pe(Image(r.name.lower(), r.version, r.size, r.platform, stamp))
            if express:  # a forward and a reverse delta instead of the file
                members.append(FileSpec(f"{folder.lower()}\\f\\{r.name.lower()}", image[:4096], stamp))
                members.append(FileSpec(f"{folder.lower()}\\r\\{r.name.lower()}", image[:2048], stamp))
            else:
                members.append(FileSpec(f"{folder.lower()}\\{r.name.lower()}", image, stamp))
        else:
            members.append(FileSpec(r.name.lower(), _text_file(r.name, r.size, stamp), stamp))
    inner = build_cabinet([FolderSpec(members, compression="mszip")])
    wsusscan = build_cabinet([FolderSpec([FileSpec("package.xml", b"<Updates/>\r\n")], compression="mszip")])
    stem = MSU[:-4]
    outer = [FileSpec(f"{stem}.cab", inner), FileSpec(f"{stem}-pkgProperties.txt",
                                                       b'ApplicabilityInfo="Windows 7.0"\r\nKB Article Number="976398"\r\n'),
             FileSpec(f"{stem}.xml", b'<?xml version="1.0"?>\r\n<unattend xmlns="urn:schemas-microsoft-com:unattend">'
                                     b'<servicing><package action="install"/></servicing></unattend>\r\n'),
             FileSpec("WSUSSCAN.cab", wsusscan)]
    return build_cabinet([FolderSpec(outer, compression="mszip")])


# -- Burn bundle -----------------------------------------------------------------------------------
BURN_TABLE = """| File name | File version | File size | Date | Time | Platform |
|---|---|---|---|---|---|
| WixStdBA.dll | 3.11.2.4516 | 180,224 | 10-Sep-2019 | 12:00 | x86 |
| FixtureProduct.msi | Not applicable | {msi_size:,} | 10-Sep-2019 | 12:00 | Not applicable |
"""


def burn() -> tuple[bytes, str]:
    ba = build_pe(machine="x86", file_version="3.11.2.4516", product_version="3.11.2.4516", size=180224,
                  timestamp=dt.datetime(2019, 9, 10, 12, 0), is_dll=True,
                  strings={"OriginalFilename": "WixStdBA.dll", "CompanyName": "fixture"})
    product = build_package([PayloadFile("ProgramFilesFolder", "readme.txt", b"bundle replica\r\n")],
                            product_name="Fixture Bundle Product", product_code="{C3D4E5F6-0000-4000-8000-0000000B0001}",
                            package_code="{C3D4E5F6-0000-4000-8000-0000000B00AA}").database.build("msi")
    bundle = build_burn([("WixStdBA.dll", ba)], [("FixtureProduct.msi", product)], packages=["FixtureProduct"])
    return bundle, BURN_TABLE.format(msi_size=len(product))


def build(out: Path) -> dict[str, bytes]:
    written: dict[str, bytes] = {}

    def put(rel: str, data: bytes) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[rel] = data

    put(f"sqlcu/{SQL_EXE}", sql_update())
    described = {}
    for name, (what, variant) in SQL_TAMPERED.items():
        put(f"sqlcu/tampered/{name}.exe", sql_update(variant))
        described[name] = what
    put("sqlcu/tampered/README.json", (json.dumps(described, indent=2) + "\n").encode())
    put(f"msu/{MSU}", msu())
    put(f"msu/{MSU[:-4]}-express.msu", msu(express=True))
    bundle, table = burn()
    put("burn/FixtureBundle.exe", bundle)
    put("burn/table.md", table.encode())
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "fixtures")
    args = parser.parse_args()
    for rel, data in build(args.out).items():
        print(f"{rel}: {len(data):,} bytes")


if __name__ == "__main__":
    main()
