"""fixtures/patches: rebuilt byte for byte, and read back by independent tools.

* the build script run into a temporary folder gives exactly the committed bytes;
* base.msi / base2.msi: msidump's tables equal the builder's rows, msiextract
  installs the files under the Directory tree, msiinfo reads the summary;
* every .msp/.mst: msiinfo suminfo reads the summary, olefile lists the
  storages, cabextract extracts the patch cabinet (taken out with olefile) and
  every member matches expected.json; PA19 members and headers have
  CRC32(whole file) == 0xFFFFFFFF;
* expected.json agrees with itself where the formats tie values together
  (member sequences vs File rows, delta header sizes vs FileSize, ...).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import zlib
from pathlib import Path

import olefile
import pytest

from conftest import FIXTURES, ROOT, require_tool
from msitools.container.streamname import encode_stream_name

PATCHES = FIXTURES / "patches"
MSI_CLSID = "000C1084-0000-0000-C000-000000000046"
MSP_CLSID = "000C1086-0000-0000-C000-000000000046"
MST_CLSID = "000C1082-0000-0000-C000-000000000046"
PACKAGES = ["base.msi", "base2.msi", "change.mst", "whole.msp", "delta.msp", "two-targets.msp"]
PATCH_FILES = ["whole.msp", "delta.msp", "two-targets.msp"]


def load_script():
    spec = importlib.util.spec_from_file_location("build_patch_fixtures", ROOT / "scripts" / "build_patch_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return load_script()


@pytest.fixture(scope="module")
def expected():
    return json.loads((PATCHES / "expected.json").read_text())


def test_rebuild_gives_the_committed_bytes(tmp_path, script):
    assert script.main(["build", str(tmp_path)]) == 0
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == sorted(PACKAGES + ["expected.json"])
    for name in built:
        assert (tmp_path / name).read_bytes() == (PATCHES / name).read_bytes(), f"{name} differs from the committed fixture"


# ---------------------------------------------------------------------------------------------
# the products


def read_idt(path: Path) -> "tuple[list[str], list[str], list[list[str]]]":
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    assert lines[-1] == ""
    names, types = lines[0].split("\t"), lines[1].split("\t")
    return names, types, [line.split("\t") for line in lines[3:-1]]


@pytest.mark.parametrize("name", ["base.msi", "base2.msi"])
def test_products_read_by_msidump(name, tmp_path, expected):
    msidump = require_tool("msidump")
    subprocess.run([msidump, "-t", "-d", str(tmp_path), str(PATCHES / name)], cwd=tmp_path, check=True,
                   capture_output=True)
    tables = expected["products"][name]["tables"]
    dumped = {p.stem for p in tmp_path.glob("*.idt")} - {"_SummaryInformation", "_ForceCodepage"}
    assert dumped == set(tables)
    for table, model in tables.items():
        names, types, rows = read_idt(tmp_path / f"{table}.idt")
        assert names == [c["name"] for c in model["columns"]]
        assert types == [c["idt"] for c in model["columns"]]
        want = sorted(["" if v is None else str(v) for v in row] for row in model["rows"])
        assert sorted(rows) == want, table


@pytest.mark.parametrize("name", ["base.msi", "base2.msi"])
def test_product_summary_read_by_msiinfo(name, expected):
    out = msiinfo_suminfo(PATCHES / name)
    facts = expected["products"][name]
    assert f"Revision number (UUID): {facts['package_code']}" in out
    assert "Template: Intel;1033" in out and "Source: 2 (2)" in out and "Version: 200 (c8)" in out


@pytest.mark.parametrize("name", ["base.msi", "base2.msi"])
def test_products_installed_by_msiextract(name, tmp_path, script):
    msiextract = require_tool("msiextract")
    out = subprocess.run([msiextract, "-C", str(tmp_path), str(PATCHES / name)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    long_name = "Fixture Product Two" if name == "base2.msi" else "Fixture Product"
    files = {f"Program Files/{long_name}/readme.txt": script.FILES_V100["readme.txt"],
             f"Program Files/{long_name}/config.xml": script.FILES_V100["config.xml"],
             f"Program Files/{long_name}/source bin/core.dll": script.FILES_V100["core.dll"],     # target:source DefaultDir
             f"Program Files/{long_name}/source bin/helper.dll": script.FILES_V100["helper.dll"]}
    if name == "base2.msi":
        files[f"Program Files/{long_name}/extra.txt"] = script.EXTRA_FILE
    assert sorted(out) == sorted(files)
    for rel, data in files.items():
        assert (tmp_path / rel).read_bytes() == data


# ---------------------------------------------------------------------------------------------
# summaries and containers


def msiinfo_suminfo(path: Path) -> str:
    msiinfo = require_tool("msiinfo")
    return subprocess.run([msiinfo, "suminfo", str(path)], capture_output=True, text=True, check=True,
                          env={**os.environ, "TZ": "UTC"}).stdout


@pytest.mark.parametrize("name", ["change.mst"] + PATCH_FILES)
def test_summary_read_by_msiinfo(name, expected):
    out = msiinfo_suminfo(PATCHES / name)
    summary = expected[name]["summary"]
    assert f"Template: {summary['template']}" in out
    assert f"Last author: {summary['last_author']}" in out
    assert f"Revision number (UUID): {summary['revision']}" in out
    assert f"Subject: {summary['subject']}" in out
    if name.endswith(".msp"):
        assert f"Source: {summary['word_count']} " in out
        assert summary["revision"].startswith(expected[name]["patch_code"])
        names = [t for target in expected[name]["targets"] for t in target["transforms"]]
        assert summary["last_author"] == ";".join(":" + t for t in names)
    else:
        char_count = summary["char_count"]
        assert f"Restrict: {char_count} ({char_count:x})" in out


def test_transform_fixture_container(expected):
    ole = olefile.OleFileIO(str(PATCHES / "change.mst"))
    try:
        assert ole.root.clsid == MST_CLSID
        entries = {tuple(e) for e in ole.listdir(streams=True, storages=True)}
    finally:
        ole.close()
    tables = {t for t in ("_Tables", "_Columns", "Binary", "Environment", "Property", "Registry",
                          "_StringPool", "_StringData")}
    assert entries == ({(encode_stream_name(t, True),) for t in tables}
                       | {(encode_stream_name("Binary.FixtureBlob", False),), ("\x05SummaryInformation",)})
    assert expected["change.mst"]["dropped_tables"] == []


def patch_cabinet(name: str, expected) -> bytes:
    ole = olefile.OleFileIO(str(PATCHES / name))
    try:
        assert ole.root.clsid == MSP_CLSID
        for target in expected[name]["targets"]:
            for storage in target["transforms"]:
                assert ole.get_type(storage) == olefile.STGTY_STORAGE
                assert ole.getclsid(storage) == MST_CLSID
                assert ole.exists(f"{storage}/\x05SummaryInformation")
        return ole.openstream(encode_stream_name(expected[name]["cabinet"]["stream"], False)).read()
    finally:
        ole.close()


@pytest.mark.parametrize("name", PATCH_FILES)
def test_patch_cabinet_extracted_by_cabextract(name, expected, tmp_path):
    cabextract = require_tool("cabextract")
    cab = tmp_path / "patch.cab"
    cab.write_bytes(patch_cabinet(name, expected))
    listing = subprocess.run([cabextract, "-l", str(cab)], capture_output=True, text=True, check=True).stdout
    listed = [line.split("|")[-1].strip() for line in listing.splitlines() if line.count("|") == 2][1:]
    members = expected[name]["cabinet"]["members"]
    assert listed == [m["name"] for m in members]
    assert [m["sequence"] for m in members] == sorted(m["sequence"] for m in members)
    out = tmp_path / "out"
    subprocess.run([cabextract, "-q", "-d", str(out), str(cab)], check=True, capture_output=True)
    for member in members:
        data = (out / member["name"]).read_bytes()
        assert len(data) == member["size"] and hashlib.sha256(data).hexdigest() == member["sha256"]
        if data[:4] == b"PA19":
            assert member["info"]["format"] == "PA19"
            assert zlib.crc32(data) == 0xFFFFFFFF
        elif data[:4] == b"PA30":
            assert member["info"]["format"] == "PA30"


@pytest.mark.parametrize("name", PATCH_FILES)
def test_patch_database_read_by_msidump(name, expected, tmp_path):
    msidump = require_tool("msidump")
    subprocess.run([msidump, "-t", "-d", str(tmp_path), str(PATCHES / name)], cwd=tmp_path, check=True,
                   capture_output=True)
    for table, model in expected[name]["database"].items():
        _names, types, rows = read_idt(tmp_path / f"{table}.idt")
        assert types == [c["idt"] for c in model["columns"]]
        assert sorted(rows) == sorted(["" if v is None else str(v) for v in row] for row in model["rows"])


def test_delta_headers_in_the_paired_transform(expected):
    desc = expected["delta.msp"]
    (target,) = desc["targets"]
    storage = target["transforms"][1]
    ole = olefile.OleFileIO(str(PATCHES / "delta.msp"))
    try:
        for member in desc["cabinet"]["members"]:
            row = member["patch_row"]
            if row["header"] == "Patch.Header":
                stream = f"Patch.{member['name']}.{member['sequence']}"
            elif row["header"] == "MsiPatchHeaders":
                stream = f"MsiPatchHeaders.{row['stream_ref']}"
            else:
                assert member["info"]["format"] == "PA30"
                continue
            header = ole.openstream([storage, encode_stream_name(stream, False)]).read()
            assert len(header) == row["header_size"]
            assert header[:4] == b"PA19" and zlib.crc32(header) == 0xFFFFFFFF
    finally:
        ole.close()


# ---------------------------------------------------------------------------------------------
# expected.json: internal consistency of the builders' intent


def rows_by_key(model: dict) -> dict:
    keys = [i for i, c in enumerate(model["columns"]) if c["key"]]
    return {tuple(row[i] for i in keys): row for row in model["rows"]}


@pytest.mark.parametrize("name", PATCH_FILES)
def test_expected_patch_intent_is_consistent(name, expected):
    desc = expected[name]
    cabinet = desc["cabinet"]
    for target in desc["targets"]:
        product = expected["products"][target["label"]]
        assert target["product_code"] == product["product_code"]
        tables = target["patched_tables"]
        files = rows_by_key(tables["File"])
        media = rows_by_key(tables["Media"])
        assert media[(cabinet["disk_id"],)] == [cabinet["disk_id"], cabinet["last_sequence"], None,
                                                "#" + cabinet["stream"], None, cabinet["source_property"]]
        assert rows_by_key(tables["PatchPackage"])[(desc["patch_code"],)] == [desc["patch_code"], cabinet["disk_id"]]
        previous_last = max(r[1] for k, r in rows_by_key(product["tables"]["Media"]).items())
        for member in cabinet["members"]:
            row = files[(member["name"],)]
            assert row[7] == member["sequence"] > previous_last
            if member["kind"] == "file":
                assert row[3] == member["size"] and row[6] & 0x1000
            else:
                patch_rows = rows_by_key(tables["Patch"])
                assert patch_rows[(member["name"], member["sequence"])][2] == member["size"]
                info = member["info"]
                old = product["files"][member["name"]]
                if info["format"] == "PA19":
                    assert info["new_size"] == row[3]
                    assert info["old_files"][0]["size"] == old["size"]
                else:
                    assert info["target_size"] == row[3]
        props = rows_by_key(tables["Property"])
        assert ("PATCHNEWPACKAGECODE",) in props and ("PATCHNEWSUMMARYSUBJECT",) in props
