"""The MSP builder (msitools.testing.writer.patch), read back by olefile, msiinfo, msidump and cabextract.

Expectations are the PatchWiz/WiX layout rules of FORMATS §2.2, §3.7 and §4,
stated by hand here; the transforms' record encoding itself is checked in
test_writer_transform.py against Wine's bytes.
"""
from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

import olefile
import pytest

from conftest import require_tool
from msitools.errors import PatchError
from msitools.container.streamname import encode_stream_name
from msitools.testing.writer.database import DatabaseBuilder
from msitools.testing.writer.delta import PA19Delta
from msitools.testing.writer.patch import FILE_ATTR_PATCH_ADDED, PatchBuilder
from msitools.testing.writer.summary import SummaryInfo

MSP_CLSID = "000C1086-0000-0000-C000-000000000046"
MST_CLSID = "000C1082-0000-0000-C000-000000000046"
PATCH_CODE = "{0F96CDC0-4CDF-4304-B283-7B9264889EF7}"
PRODUCT = "{913B8D18-FBB6-4CAC-A239-C74C11E3FA74}"

OLD = {"a.txt": b"alpha 1\r\n", "b.bin": bytes(range(200)), "c.bin": b"c" * 300}
NEW = {"a.txt": b"alpha 2, longer\r\n", "b.bin": bytes(range(200, 0, -1)), "c.bin": b"C" * 310}


def product(version: str, files: "dict[str, bytes]", package_code: str) -> DatabaseBuilder:
    db = DatabaseBuilder(1252)
    db.summary = SummaryInfo.for_msi(package_code=package_code, template="Intel;1033",
                                     subject="Test product", comments="for the patch builder tests")
    db.add_table("File", [("File", "s72", True), ("Component_", "s72"), ("FileName", "l255"), ("FileSize", "i4"),
                          ("Version", "S72"), ("Language", "S20"), ("Attributes", "I2"), ("Sequence", "i2")])
    for seq, (key, data) in enumerate(sorted(files.items()), start=1):
        db.add_row("File", key, "C", key, len(data), None, None, None, seq)
    db.add_table("Media", [("DiskId", "i2", True), ("LastSequence", "i4"), ("DiskPrompt", "L64"),
                           ("Cabinet", "S255"), ("VolumeLabel", "S32"), ("Source", "S72")])
    db.add_row("Media", 1, len(files), None, "#data.cab", None, None)
    db.add_table("Property", [("Property", "s72", True), ("Value", "l0")])
    db.add_rows("Property", [("ProductCode", PRODUCT), ("ProductVersion", version),
                             ("UpgradeCode", "{A2E3D643-4E2C-477F-A309-F76F552D5F43}")])
    db.add_table("InstallExecuteSequence", [("Action", "s72", True), ("Condition", "S255"), ("Sequence", "I2")])
    db.add_row("InstallExecuteSequence", "InstallFiles", None, 4000)
    return db


def builder() -> "tuple[PatchBuilder, dict]":
    base = product("1.1.1", OLD, "{00000000-0000-0000-0000-00000000000A}")
    upgraded = product("1.1.2", NEW, "{42A14A82-12F8-4E6D-970E-1B4EE7BE28B0}")
    patch = PatchBuilder(PATCH_CODE, family="Fam", cabinet="CAB_test", sequence_version="1.1.2",
                         metadata=[(None, "Classification", "Hotfix")],
                         summary={"subject": "Test patch", "keywords": "PatchSourceList"}, word_count=4)
    patch.add_target(base, upgraded, "targetToupgraded")
    b_delta = PA19Delta.between(OLD["b.bin"], NEW["b.bin"], timestamp=1_300_000_000)
    c_delta = PA19Delta.between(OLD["c.bin"], NEW["c.bin"])
    patch.add_file("a.txt", NEW["a.txt"])
    patch.add_delta("b.bin", b_delta.to_bytes(), header=b_delta.header_extract())
    patch.add_delta("c.bin", c_delta.to_bytes(), header=c_delta.header_extract(), stream_ref="c.hdr")
    members = {"a.txt": NEW["a.txt"], "b.bin": b_delta.to_bytes(), "c.bin": c_delta.to_bytes()}
    return patch, {"members": members, "b_header": b_delta.header_extract(), "c_header": c_delta.header_extract()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> "tuple[Path, PatchBuilder, dict]":
    patch, data = builder()
    path = tmp_path_factory.mktemp("msp") / "test.msp"
    patch.write(path)
    return path, patch, data


def test_container_layout(built):
    path, _patch, data = built
    ole = olefile.OleFileIO(str(path))
    try:
        assert ole.root.clsid == MSP_CLSID
        assert ole.getclsid("targetToupgraded") == MST_CLSID
        assert ole.getclsid("#targetToupgraded") == MST_CLSID
        entries = {tuple(e) for e in ole.listdir(streams=True, storages=True)}
        assert (encode_stream_name("CAB_test", False),) in entries
        for table in ("_Tables", "_Columns", "_StringPool", "_StringData", "MsiPatchMetadata", "MsiPatchSequence"):
            assert (encode_stream_name(table, True),) in entries
        main = {e[1] for e in entries if len(e) == 2 and e[0] == "targetToupgraded"}
        paired = {e[1] for e in entries if len(e) == 2 and e[0] == "#targetToupgraded"}

        def tables(names):
            return {n for n in names if n.startswith("\u4840")}

        assert tables(main) == {encode_stream_name(t, True) for t in
                                ("_StringPool", "_StringData", "File", "Property")}
        assert tables(paired) == {encode_stream_name(t, True) for t in
                                  ("_StringPool", "_StringData", "_Tables", "_Columns", "File", "Media",
                                   "PatchPackage", "Property", "Patch", "MsiPatchHeaders",
                                   "InstallExecuteSequence")}
        # the delta headers travel as binary-cell streams of the '#' transform (FORMATS §1.5, §4.3)
        header_b = ole.openstream(["#targetToupgraded", encode_stream_name("Patch.b.bin.5", False)]).read()
        header_c = ole.openstream(["#targetToupgraded", encode_stream_name("MsiPatchHeaders.c.hdr", False)]).read()
        assert header_b == data["b_header"] and header_c == data["c_header"]
        assert zlib.crc32(header_b) == 0xFFFFFFFF and zlib.crc32(header_c) == 0xFFFFFFFF
        assert "\x05SummaryInformation" in main and "\x05SummaryInformation" in paired
    finally:
        ole.close()


def test_summary_read_by_msiinfo(built):
    msiinfo = require_tool("msiinfo")
    path, _patch, _data = built
    out = subprocess.run([msiinfo, "suminfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert f"Template: {PRODUCT}" in out
    assert "Last author: :targetToupgraded;:#targetToupgraded" in out
    assert f"Revision number (UUID): {PATCH_CODE}" in out
    assert "Source: 4 (4)" in out            # WordCount: needs Windows Installer 3.0
    assert "Title: Patch" in out and "Subject: Test patch" in out


def test_patch_database_read_by_msidump(built, tmp_path):
    msidump = require_tool("msidump")
    path, _patch, _data = built
    subprocess.run([msidump, "-t", "-d", str(tmp_path), str(path)], cwd=tmp_path, check=True, capture_output=True)
    sequence = (tmp_path / "MsiPatchSequence.idt").read_text().splitlines()
    assert sequence[:3] == ["PatchFamily\tProductCode\tSequence\tAttributes", "s72\tS38\ts72\tI2",
                            "MsiPatchSequence\tPatchFamily\tProductCode"]
    assert sequence[3:] == ["Fam\t\t1.1.2\t"]
    metadata = (tmp_path / "MsiPatchMetadata.idt").read_text().splitlines()
    assert metadata[1:] == ["S72\ts72\tl0", "MsiPatchMetadata\tCompany\tProperty", "\tClassification\tHotfix"]


def test_cabinet_read_by_cabextract(built, tmp_path):
    cabextract = require_tool("cabextract")
    path, _patch, data = built
    ole = olefile.OleFileIO(str(path))
    try:
        cab = ole.openstream(encode_stream_name("CAB_test", False)).read()
    finally:
        ole.close()
    cab_path = tmp_path / "patch.cab"
    cab_path.write_bytes(cab)
    listing = subprocess.run([cabextract, "-l", str(cab_path)], capture_output=True, text=True, check=True).stdout
    names = [line.split("|")[-1].strip() for line in listing.splitlines() if line.count("|") == 2][1:]
    assert names == ["a.txt", "b.bin", "c.bin"]          # File keys in patch-sequence order
    out = tmp_path / "x"
    subprocess.run([cabextract, "-q", "-d", str(out), str(cab_path)], check=True, capture_output=True)
    for name, content in data["members"].items():
        assert (out / name).read_bytes() == content
    assert zlib.crc32((out / "b.bin").read_bytes()) == 0xFFFFFFFF


def test_patched_tables_follow_the_patchwiz_rules(built):
    _path, patch, data = built
    (target,) = patch.targets
    patched = target.patched
    files = patched.tables["File"].rows
    # new sequences after the target's last one (3), in the order the files were added
    assert [files[(k,)][7] for k in ("a.txt", "b.bin", "c.bin")] == [4, 5, 6]
    assert files[("a.txt",)][6] == FILE_ATTR_PATCH_ADDED           # whole file: PatchAdded
    assert files[("b.bin",)][6] is None and files[("c.bin",)][6] is None   # deltas: attributes untouched
    assert files[("a.txt",)][3] == len(NEW["a.txt"])               # FileSize from the upgraded image
    assert patched.tables["Media"].rows[(2,)] == (2, 6, None, "#CAB_test", None, "PatchMediaSrc")
    assert patched.tables["PatchPackage"].rows == {(PATCH_CODE,): (PATCH_CODE, 2)}
    assert patched.tables["Patch"].rows == {
        ("b.bin", 5): ("b.bin", 5, len(data["members"]["b.bin"]), 0, data["b_header"], None),
        ("c.bin", 6): ("c.bin", 6, len(data["members"]["c.bin"]), 0, None, "c.hdr"),
    }
    assert patched.tables["MsiPatchHeaders"].rows == {("c.hdr",): ("c.hdr", data["c_header"])}
    props = {k[0]: v[1] for k, v in patched.tables["Property"].rows.items()}
    assert props["PATCHNEWPACKAGECODE"] == "{42A14A82-12F8-4E6D-970E-1B4EE7BE28B0}"
    assert props["PATCHNEWSUMMARYSUBJECT"] == "Test product"
    assert props["PATCHNEWSUMMARYCOMMENTS"] == "for the patch builder tests"
    assert props["ProductVersion"] == "1.1.2"
    assert patched.tables["InstallExecuteSequence"].rows[("PatchFiles",)] == ("PatchFiles", None, 4010)
    # the main transform carries the product diff only: no Media, no sequence changes
    main_ops = {(c["table"], c["op"]) for c in target.main.describe()}
    assert main_ops == {("File", "update"), ("Property", "update")}
    assert all("Sequence" not in c["values"] for c in target.main.describe() if c["table"] == "File")
    assert target.main.summary.revision == f"{PRODUCT}1.1.1;{PRODUCT}1.1.2;{{A2E3D643-4E2C-477F-A309-F76F552D5F43}}"
    assert target.paired.summary.revision == f"{PRODUCT}1.1.2;{PRODUCT}1.1.2;{{A2E3D643-4E2C-477F-A309-F76F552D5F43}}"
    assert target.main.summary.char_count >> 16 == 0x0922 and target.paired.summary.char_count >> 16 == 0x0927


def test_builder_errors():
    with pytest.raises(PatchError, match="GUID"):
        PatchBuilder("not-a-guid")
    patch, _ = builder()
    with pytest.raises(PatchError, match="already carried"):
        patch.add_file("a.txt", b"again")
    patch.add_file("missing.dll", b"x")
    with pytest.raises(PatchError, match="no File row"):
        patch.plan()
    with pytest.raises(PatchError, match="transform name"):
        patch.add_target(patch.targets[0].target, patch.targets[0].upgraded, "#bad")
    with pytest.raises(PatchError, match="needs a header"):
        patch.add_delta("z", b"PA19", stream_ref="ref")
    other, _ = builder()
    other.compression = "zip"
    with pytest.raises(PatchError, match="patch cabinet"):
        other.build()

