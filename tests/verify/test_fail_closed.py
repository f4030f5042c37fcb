"""Fail closed: whenever a check in `verify` cannot be made, the row is `unverified`, never `pass`,
and the verdict is `fail`.  Each test damages one input the verifier reads."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from msitools.cli import cli
from msitools.payload.filehash import file_hash_parts
from msitools.testing.writer.package import STANDARD_DIRECTORIES, PayloadFile, build_package
from msitools.testing.writer.pe import build_pe

from conftest import FIXTURES, load_script
from malform import Cfb, stream_byte_offset
from msitools.container.streamname import encode_stream_name

REPLICA = FIXTURES / "kb2586709"
HOTFIX = REPLICA / "SCCM2007-SP2-2586709-X86-ENU.msi"
MSP = REPLICA / "Sccm2007ac-sp2-kb2586709-x86-enu.msp"
TABLE = REPLICA / "kb2586709.txt"
BINARIES = ["Tscore.dll", "Tsmanager.exe", "Tsmbootstrap.exe"]


def verify(hotfix: Path, table: Path = TABLE) -> dict:
    result = CliRunner().invoke(cli, ["verify", str(hotfix), "--kb", str(table), "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "fail"
    return report


def statuses(report: dict) -> "dict[tuple, str]":
    return {(r["name"], r["platform"]): r["status"] for r in report["rows"]}


def flip(data: bytes, stream: str, pos: int) -> bytes:
    """Invert one byte of the (MSI-name-encoded) root stream *stream*."""
    cfb = Cfb(data)
    offset = stream_byte_offset(cfb, encode_stream_name(stream, False), pos)
    out = bytearray(data)
    out[offset] ^= 0xFF
    return bytes(out)


def rewrap(tmp_path: Path, msp: bytes) -> Path:
    builder = load_script("build_kb2586709")
    path = tmp_path / "hotfix.msi"
    path.write_bytes(builder.hotfix_bytes(msp))
    return path


def test_damaged_hotfix_cabinet_rows_are_unverified(tmp_path):
    damaged = flip(HOTFIX.read_bytes(), "hotfix.cab", 200)  # inside the first data block
    path = tmp_path / "hotfix.msi"
    path.write_bytes(damaged)
    report = verify(path)
    assert set(statuses(report).values()) == {"unverified"}
    assert report["unlisted"] == []
    assert any("checksum" in reason.lower() or "cabinet" in reason.lower()
               for r in report["rows"] for reason in r.get("reasons", []))


def test_damaged_patch_cabinet_rows_are_unverified(tmp_path):
    msp = flip(MSP.read_bytes(), "PCW_CAB_SCCM", 300)
    report = verify(rewrap(tmp_path, msp))
    got = statuses(report)
    for name in BINARIES:
        assert got[(name, "x86")] == "unverified" and got[(name, "x64")] == "unverified"
    assert got[("Mcs.msi", "Not Applicable")] == "pass"
    # the .msp itself still has its published size (one byte changed): its row passes
    assert got[("Sccm2007ac-sp2-kb2586709-x86-enu.msp", "Not Applicable")] == "pass"


def test_unreadable_patch_transforms_leave_rows_unverified_not_missing(tmp_path):
    data = MSP.read_bytes()
    cfb = Cfb(data)
    # break the main transform's string pool: its _StringData becomes shorter than the pool says
    name = encode_stream_name("_StringData", True)
    offsets = [item for item in cfb.entries() if item[1] == name]
    assert len(offsets) >= 2
    import struct

    out = bytearray(data)
    entry_offset = offsets[1][0]
    struct.pack_into("<I", out, entry_offset + 0x78, 3)
    report = verify(rewrap(tmp_path, bytes(out)))
    got = statuses(report)
    assert "missing" not in got.values()
    for name in BINARIES:
        assert got[(name, "x86")] == "unverified"
    assert report["unreadable"]


def test_unreadable_pe_image_is_unverified(tmp_path):
    good = build_pe(machine="x86", file_version="1.2.3.4", product_version="1.2.3.4", size=8192,
                    timestamp=__import__("datetime").datetime(2020, 1, 1), is_dll=True)
    broken = bytearray(good)
    lfanew = int.from_bytes(good[0x3C:0x40], "little")
    broken[lfanew + 4 + 16:lfanew + 4 + 18] = (0xFFFF).to_bytes(2, "little")  # SizeOfOptionalHeader
    built = build_package([PayloadFile("ProgramFilesFolder", "tool.dll", bytes(broken), version="1.2.3.4")],
                          directories=STANDARD_DIRECTORIES)
    path = tmp_path / "hotfix.msi"
    built.write(path)
    table = tmp_path / "table.csv"
    table.write_text('File name,File version,File size,Date,Time,Platform\ntool.dll,1.2.3.4,"8,192",01-Feb-2010,16:35,x86\n')
    report = verify(path, table)
    row = report["rows"][0]
    assert row["status"] == "unverified" and "PE" in " ".join(row["reasons"])


def test_missing_external_cabinet_is_unverified(tmp_path):
    built = build_package([PayloadFile("ProgramFilesFolder", "a.txt", b"hello\r\n")], directories=STANDARD_DIRECTORIES,
                          media="external")
    path = tmp_path / "hotfix.msi"
    built.write(path)  # the cabinet is not written beside it
    table = tmp_path / "table.csv"
    table.write_text('File name,File version,File size,Date,Time,Platform\na.txt,Not Applicable,7,01-Feb-2010,16:35,'
                     'Not Applicable\n')
    row = verify(path, table)["rows"][0]
    assert row["status"] == "unverified" and "not found" in " ".join(row["reasons"])


def test_delta_payload_is_unverified(tmp_path):
    patches = FIXTURES / "patches"
    built = build_package([PayloadFile("ProgramFilesFolder", "delta.msp", (patches / "delta.msp").read_bytes())],
                          directories=STANDARD_DIRECTORIES)
    path = tmp_path / "hotfix.msi"
    built.write(path)
    table = tmp_path / "table.csv"
    size = (patches / "delta.msp").stat().st_size
    table.write_text('File name,File version,File size,Date,Time,Platform\n'
                     f'delta.msp,Not Applicable,{size},01-Feb-2010,16:35,Not Applicable\n'
                     'core.dll,1.0.2.0,"3,072",01-Feb-2010,16:35,x86\n')
    report = verify(path, table)
    core = next(r for r in report["rows"] if r["name"] == "core.dll")
    assert core["status"] == "unverified" and "delta" in " ".join(core["reasons"])
    assert core["delta"]["format"] == "PA19" and core["delta"]["new_size"] == 3072


def test_ambiguous_published_row_is_never_pass(tmp_path):
    table = tmp_path / "glued.txt"
    # one glued row with no other rows to take evidence from: version/size split is ambiguous
    table.write_text("File nameFile versionFile sizeDateTimePlatform\n"
                     "Mcs.msi4.0.6487.21921,172,32801-Feb-201016:35x86\n")
    report = verify(HOTFIX, table)
    assert report["rows"][0]["status"] == "ambiguous"


def test_msi_file_hash_mismatch_fails_the_row(tmp_path):
    data = b"published text\r\n"
    built = build_package([PayloadFile("ProgramFilesFolder", "notes.txt", data, key="notes.txt")],
                          directories=STANDARD_DIRECTORIES)
    db = built.database
    db.add_table("MsiFileHash", [("File_", "s72", True), ("Options", "i2", False), ("HashPart1", "i4", False),
                                 ("HashPart2", "i4", False), ("HashPart3", "i4", False), ("HashPart4", "i4", False)])
    wrong = file_hash_parts(b"other text\r\n")
    db.add_row("MsiFileHash", "notes.txt", 0, *wrong)
    path = tmp_path / "hotfix.msi"
    db.write(path)
    table = tmp_path / "table.csv"
    table.write_text('File name,File version,File size,Date,Time,Platform\n'
                     f'notes.txt,Not Applicable,{len(data)},01-Feb-2010,16:35,Not Applicable\n')
    row = verify(path, table)["rows"][0]
    assert row["status"] == "mismatch" and [d["field"] for d in row["differences"]] == ["MsiFileHash"]
