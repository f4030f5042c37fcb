"""The summary-information writer, checked with msiinfo, msidump and olefile.

Expected values come from FORMATS §2 (byte layout, the Wine patch test's
CharCount example) and from the inputs; the readers are independent tools.
"""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import olefile
import pytest

from conftest import require_tool
from msitools.errors import SummaryInfoError
from msitools.testing.writer.database import DatabaseBuilder
from msitools.testing.writer.summary import (
    ERROR_ADDEXISTINGROW,
    ERROR_ADDEXISTINGTABLE,
    ERROR_DELMISSINGROW,
    ERROR_UPDATEMISSINGROW,
    VALIDATE_NEWEQUALBASEVERSION,
    VALIDATE_PRODUCT,
    VALIDATE_UPDATEVERSION,
    VALIDATE_UPGRADECODE,
    SummaryInfo,
    filetime,
    transform_revision,
)

PATCH_CODE = "{0F96CDC0-4CDF-4304-B283-7B9264889EF7}"
PRODUCT = "{913B8D18-FBB6-4CAC-A239-C74C11E3FA74}"


def package_with(summary: SummaryInfo, tmp_path: Path, kind: str = "msi") -> Path:
    b = DatabaseBuilder(codepage=summary.codepage)
    b.add_table("Property", [("Property", "s72", True), ("Value", "l0")])
    b.add_row("Property", "ProductCode", PRODUCT)
    b.summary = summary
    path = tmp_path / f"package.{kind}"
    b.write(path, kind=kind)
    return path


def suminfo(path: Path) -> "dict[str, bytes]":
    tool = require_tool("msiinfo")
    result = subprocess.run([tool, "suminfo", str(path)], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert b"CRITICAL" not in result.stderr and b"WARNING" not in result.stderr, result.stderr
    fields = {}
    for line in result.stdout.split(b"\n"):
        if b": " in line:
            key, value = line.split(b": ", 1)
            fields[key.decode()] = value
    return fields


def msidump_summary(path: Path, tmp_path: Path) -> "dict[int, str]":
    tool = require_tool("msidump")
    out = tmp_path / "dump"
    out.mkdir()
    subprocess.run([tool, "-t", "-d", str(out), str(path)], cwd=out, check=True, capture_output=True)
    # libmsi copies summary strings into the IDT as stored (codepage bytes, not UTF-8)
    lines = (out / "_SummaryInformation.idt").read_bytes().decode("latin-1").split("\r\n")
    assert lines[:3] == ["PropertyId\tValue", "i2\tl255", "_SummaryInformation\tPropertyId"]
    return {int(k): v for k, v in (line.split("\t", 1) for line in lines[3:] if line)}


def test_msi_summary_all_fields(tmp_path):
    summary = SummaryInfo(
        codepage=1252, title="Installation Database", subject="Café Product", author="Vendor",
        keywords="Installer,MSI", comments="Comments here", template="x64;1033,1031",
        last_author="Someone", revision="{ABCDEF01-2345-6789-ABCD-EF0123456789}",
        last_printed=datetime(2001, 2, 3, 4, 5, 6), created=datetime(2013, 12, 6, 6, 52, 2),
        last_saved=datetime(2020, 1, 1, tzinfo=timezone.utc), page_count=500, word_count=10,
        app_name="msitools writer", security=2)
    path = package_with(summary, tmp_path)
    fields = suminfo(path)
    assert fields["Title"] == b"Installation Database"
    assert fields["Subject"] == "Café Product".encode("cp1252")  # msiinfo prints the stored bytes
    assert fields["Author"] == b"Vendor"
    assert fields["Keywords"] == b"Installer,MSI"
    assert fields["Comments"] == b"Comments here"
    assert fields["Template"] == b"x64;1033,1031"
    assert fields["Last author"] == b"Someone"
    assert fields["Revision number (UUID)"] == b"{ABCDEF01-2345-6789-ABCD-EF0123456789}"
    assert fields["Version"] == b"500 (1f4)"
    assert fields["Source"] == b"10 (a)"
    assert fields["Application"] == b"msitools writer"
    assert fields["Security"] == b"2 (2)"
    dumped = msidump_summary(path, tmp_path)
    assert dumped[1] == "1252"
    assert dumped[3] == "Café Product".encode("cp1252").decode("latin-1")
    assert dumped[11] == "2001/02/03 04:05:06"
    assert dumped[12] == "2013/12/06 06:52:02"
    assert dumped[13] == "2020/01/01 00:00:00"
    assert dumped[14] == "500" and dumped[15] == "10" and dumped[19] == "2"
    assert 16 not in dumped  # CharCount left out


def test_byte_layout_matches_formats():
    raw = SummaryInfo(codepage=1252, title="x").to_bytes()
    # FORMATS §2.1: FFFE, format 0, OS version 5, OS kind 2, zero CLSID, 1 section, FMTID, offset 0x30
    assert raw[:8] == bytes.fromhex("FEFF000005000200")
    assert raw[8:24] == bytes(16)
    assert raw[24:28] == bytes.fromhex("01000000")
    assert raw[28:44] == bytes.fromhex("E0859FF2F94F6810AB9108002B27B3D9")
    assert raw[44:48] == bytes.fromhex("30000000")
    ole_props = olefile.OleFileIO(DatabaseBuilder().build()).getproperties("\x05SummaryInformation")
    assert ole_props[1] == 1252


def test_utf8_codepage_is_stored_as_signed_i2(tmp_path):
    summary = SummaryInfo(codepage=65001, subject="Grüße 日本", author="Ключ")
    path = package_with(summary, tmp_path)
    props = olefile.OleFileIO(path.read_bytes()).getproperties("\x05SummaryInformation")
    assert props[1] == -535  # 65001 as a signed 16-bit VT_I2 (FORMATS §2.1)
    assert props[3] == "Grüße 日本".encode("utf-8")
    fields = suminfo(path)
    assert fields["Subject"].decode("utf-8") == "Grüße 日本"
    assert fields["Author"].decode("utf-8") == "Ключ"


def test_cp932_summary(tmp_path):
    summary = SummaryInfo(codepage=932, subject="日本語の製品")
    path = package_with(summary, tmp_path)
    assert suminfo(path)["Subject"] == "日本語の製品".encode("cp932")
    assert olefile.OleFileIO(path.read_bytes()).getproperties("\x05SummaryInformation")[1] == 932


def test_msp_summary(tmp_path):
    other = "{11111111-2222-3333-4444-555555555555}"
    summary = SummaryInfo.for_msp(
        target_product_codes=[PRODUCT, other], transforms=["targetToupgraded", "#targetToupgraded"],
        patch_code=PATCH_CODE, obsoleted=["{22222222-2222-3333-4444-555555555555}"],
        subject="Patch for product", keywords="PatchSourceList")
    path = package_with(summary, tmp_path, kind="msp")
    assert olefile.OleFileIO(path.read_bytes()).root.clsid == "000C1086-0000-0000-C000-000000000046"
    fields = suminfo(path)
    assert fields["Title"] == b"Patch"
    assert fields["Template"] == f"{PRODUCT};{other}".encode()
    assert fields["Last author"] == b":targetToupgraded;:#targetToupgraded"
    assert fields["Revision number (UUID)"] == (PATCH_CODE + "{22222222-2222-3333-4444-555555555555}").encode()
    assert fields["Source"] == b"1 (1)"  # WordCount 1 = MSPATCH-era default
    assert fields["Security"] == b"4 (4)"
    assert "Version" not in fields  # PageCount is null in a patch


def test_mst_summary_char_count(tmp_path):
    validation = VALIDATE_PRODUCT | VALIDATE_UPDATEVERSION | VALIDATE_NEWEQUALBASEVERSION | VALIDATE_UPGRADECODE
    errors = ERROR_ADDEXISTINGROW | ERROR_DELMISSINGROW | ERROR_ADDEXISTINGTABLE | ERROR_UPDATEMISSINGROW
    revision = transform_revision(PRODUCT, "1.1.1", PRODUCT, "1.1.1", "{A2E3D643-4E2C-477F-A309-F76F552D5F43}")
    summary = SummaryInfo.for_mst(template="Intel;1033", new_template="x64;1033", revision=revision,
                                  validation=validation, error_conditions=errors, page_count=100)
    path = package_with(summary, tmp_path, kind="mst")
    fields = suminfo(path)
    # FORMATS §2.2, wine-ptest t1_data3: CharCount 0x09220017
    assert fields["Restrict"] == b"153223191 (9220017)"
    assert fields["Template"] == b"Intel;1033"
    assert fields["Last author"] == b"x64;1033"
    assert fields["Revision number (UUID)"] == (
        b"{913B8D18-FBB6-4CAC-A239-C74C11E3FA74}1.1.1;{913B8D18-FBB6-4CAC-A239-C74C11E3FA74}1.1.1;"
        b"{A2E3D643-4E2C-477F-A309-F76F552D5F43}")
    assert fields["Version"] == b"100 (64)"


def test_filetime_conversion():
    assert filetime(datetime(1970, 1, 1)) == 116444736000000000
    assert filetime(datetime(1601, 1, 1, tzinfo=timezone.utc)) == 0
    assert filetime(12345) == 12345 and filetime(None) is None
    with pytest.raises(SummaryInfoError):
        filetime("yesterday")


def test_unencodable_text_is_refused():
    with pytest.raises(SummaryInfoError):
        SummaryInfo(codepage=1252, subject="日本").to_bytes()
    with pytest.raises(SummaryInfoError):
        SummaryInfo(page_count=2 ** 40).to_bytes()
