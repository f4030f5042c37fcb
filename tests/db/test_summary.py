"""Unit tests for the summary-information property set (FORMATS.md §2), with annotated bytes."""
from __future__ import annotations

import struct
from datetime import datetime, timezone

import pytest

from msitools.errors import SummaryInfoError
from msitools.db.propset import VT_FILETIME, VT_I2, VT_I4, VT_LPSTR, datetime_to_filetime
from msitools.db.summary import SummaryInformation

FMTID = bytes.fromhex("E0859FF2F94F6810AB9108002B27B3D9")


def value(vt: int, v) -> bytes:
    if vt == VT_I2:
        return struct.pack("<Ihh", vt, v, 0)            # i16 + 2 pad bytes
    if vt == VT_I4:
        return struct.pack("<Ii", vt, v)
    if vt == VT_LPSTR:
        raw = v + b"\x00"                               # byte count includes the NUL
        return struct.pack("<II", vt, len(raw)) + raw + b"\x00" * (-len(raw) % 4)
    if vt == VT_FILETIME:
        return struct.pack("<IQ", vt, v)
    raise AssertionError(vt)


def property_set(props: "list[tuple[int, int, object]]") -> bytes:
    header = struct.pack("<HHHH", 0xFFFE, 0, 5, 2) + b"\x00" * 16 + struct.pack("<I", 1) + FMTID + struct.pack("<I", 48)
    values = b""
    table = b""
    offset = 8 + 8 * len(props)                          # section size + count + (id, offset) pairs
    for pid, vt, v in props:
        blob = value(vt, v)
        table += struct.pack("<II", pid, offset + len(values))
        values += blob
    section = struct.pack("<II", 8 + len(table) + len(values), len(props)) + table + values
    return header + section


def test_msi_summary():
    created = datetime(2017, 2, 18, 17, 14, 40, tzinfo=timezone.utc)
    data = property_set([
        (1, VT_I2, 1252),
        (2, VT_LPSTR, b"Installation Database"),
        (3, VT_LPSTR, b"Caf\xe9 Tools"),                  # cp1252 e-acute
        (7, VT_LPSTR, b"x64;1033,1031"),
        (9, VT_LPSTR, b"{6BA452A6-7DBE-4456-A933-A2528F25AB0C}"),
        (12, VT_FILETIME, datetime_to_filetime(created)),
        (14, VT_I4, 200),
        (15, VT_I4, 2 | 8),
    ])
    s = SummaryInformation.parse(data, "msi").to_dict()
    assert s["subject"] == "Caf\u00e9 Tools"
    assert s["platform"] == "x64" and s["languages"] == [1033, 1031]
    assert s["package_code"] == "{6BA452A6-7DBE-4456-A933-A2528F25AB0C}"
    assert s["created"] == "2017-02-18T17:14:40Z"
    assert s["schema"] == 200
    assert s["source_flags"] == ["compressed", "no_elevation"]


def test_codepage_65001_is_stored_negative():
    data = property_set([(1, VT_I2, -535), (3, VT_LPSTR, "\u00e9t\u00e9".encode("utf-8"))])
    s = SummaryInformation.parse(data, "msi")
    assert s.codepage == 65001
    assert s.to_dict()["subject"] == "\u00e9t\u00e9"


def test_msp_summary():
    data = property_set([
        (7, VT_LPSTR, b"{2BA00471-0328-3743-93BD-FA813353A783};{4508D19D-07FE-4722-88C7-27152965756B}"),
        (8, VT_LPSTR, b":T1ToU1;:#T1ToU1;:T2ToU2;:#T2ToU2"),
        (9, VT_LPSTR, b"{09966C32-C34D-4FF4-8C7E-94A9630DDEF8}{11111111-2222-3333-4444-555555555555}"),
        (15, VT_I4, 4),
    ])
    s = SummaryInformation.parse(data, "msp").to_dict()
    assert s["patch_code"] == "{09966C32-C34D-4FF4-8C7E-94A9630DDEF8}"
    assert s["obsoleted_patch_codes"] == ["{11111111-2222-3333-4444-555555555555}"]
    assert s["target_product_codes"] == ["{2BA00471-0328-3743-93BD-FA813353A783}",
                                         "{4508D19D-07FE-4722-88C7-27152965756B}"]
    assert s["transforms"] == ["T1ToU1", "#T1ToU1", "T2ToU2", "#T2ToU2"]
    assert s["installer_requirement"] == "Windows Installer 3.0"


def test_mst_summary_wine_example():
    # Wine's tests/patch.c t1_data3: CharCount 0x09220017
    data = property_set([
        (7, VT_LPSTR, b"Intel;1033"),
        (8, VT_LPSTR, b"x64;1033"),
        (9, VT_LPSTR, b"{913B8D18-FBB6-4CAC-A239-C74C11E3FA74}1.1.1;"
                      b"{913B8D18-FBB6-4CAC-A239-C74C11E3FA74}1.1.2;{A2E3D643-4E2C-477F-A309-F76F552D5F43}"),
        (16, VT_I4, 0x09220017),
    ])
    s = SummaryInformation.parse(data, "mst").to_dict()
    assert s["target_product_code"] == "{913B8D18-FBB6-4CAC-A239-C74C11E3FA74}"
    assert s["target_product_version"] == "1.1.1"
    assert s["upgrade_product_version"] == "1.1.2"
    assert s["upgrade_code"] == "{A2E3D643-4E2C-477F-A309-F76F552D5F43}"
    assert s["validation"] == ["product", "update_version", "new_equal_base_version", "upgrade_code"]
    assert s["error_conditions"] == ["add_existing_row", "del_missing_row", "add_existing_table",
                                     "update_missing_row"]
    assert (s["platform"], s["languages"], s["new_platform"]) == ("Intel", [1033], "x64")


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d[:20], "too short"),
    (lambda d: b"\x00\x00" + d[2:], "byte-order"),
    (lambda d: d[:44] + struct.pack("<I", 5000) + d[48:], "past the end"),
    (lambda d: d[:52] + struct.pack("<I", 1000) + d[56:], "runs past the end"),
])
def test_malformed_property_sets(mutate, message):
    data = property_set([(2, VT_LPSTR, b"Title")])
    with pytest.raises(SummaryInfoError, match=message):
        SummaryInformation.parse(mutate(data), "msi")


def test_string_running_past_the_end_is_an_error():
    data = bytearray(property_set([(2, VT_LPSTR, b"Title")]))
    # the LPSTR byte count sits after the section header (8), the (id, offset) pair (8) and the VT (4)
    struct.pack_into("<I", data, 48 + 8 + 8 + 4, 10_000)
    with pytest.raises(SummaryInfoError, match="property 2"):
        SummaryInformation.parse(bytes(data), "msi")


def test_language_with_a_non_ascii_digit_is_an_issue_not_a_crash():
    # found by fuzzing: str.isdigit() accepts '\u00b3' and int() then raised ValueError
    data = property_set([(7, VT_LPSTR, "Intel;1033,10\u00b33".encode("utf-8")), (1, VT_I2, -535)])  # 65001
    s = SummaryInformation.parse(data, "msi").to_dict()
    assert s["languages"] == [1033]
    assert s["issues"] == ["Template language '10\u00b33' is not a language id"]
