"""Squashed (glued) rows: the grammar's readings and the table-wide evidence that narrows them.

Every reading listed here was worked out by hand from the row text.
"""
from __future__ import annotations

from msitools.kb import parse_table

HEADER = "File nameFile versionFile sizeDateTimePlatform\n"


def parse(*rows: str):
    return parse_table(HEADER + "\n".join(rows) + "\n", source="glued.txt").rows


def versions_sizes(row) -> set[tuple]:
    return {(x.version, x.size) for x in row.readings}


def test_shared_version_picks_the_reading():
    # Alpha: 51/234,567 512/34,567 5123/4,567; Gamma: 5/129,999 51/29,999 512/9,999;
    # Delta: only 512/100,000 (5121 would leave "00,000", 51210 would leave "0,000").
    rows = parse(
        "Alpha.dll1.0.0.51234,56701-Feb-201016:35x86",
        "Gamma.exe1.0.0.5129,99901-Feb-201016:35x86",
        "Delta.sys1.0.0.512100,00001-Feb-201016:35x86",
    )
    assert [(r.name, r.version, r.size, r.ambiguous) for r in rows] == [
        ("Alpha.dll", "1.0.0.512", 34_567, False),
        ("Gamma.exe", "1.0.0.512", 9_999, False),
        ("Delta.sys", "1.0.0.512", 100_000, False),
    ]


def test_a_tie_between_two_rows_stays_ambiguous():
    # Without Delta, 1.0.0.51 and 1.0.0.512 are each backed by both rows.
    alpha, gamma = parse(
        "Alpha.dll1.0.0.51234,56701-Feb-201016:35x86",
        "Gamma.exe1.0.0.5129,99901-Feb-201016:35x86",
    )
    assert alpha.ambiguous and gamma.ambiguous
    assert versions_sizes(alpha) == {("1.0.0.51", 234_567), ("1.0.0.512", 34_567)}
    assert versions_sizes(gamma) == {("1.0.0.51", 29_999), ("1.0.0.512", 9_999)}
    assert (alpha.version, alpha.size, alpha.platform) == (None, None, "x86")


def test_a_single_row_has_no_evidence():
    (row,) = parse("Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86")
    assert row.ambiguous
    assert versions_sizes(row) == {
        ("4.0.6487.21", 921_172_328),
        ("4.0.6487.219", 21_172_328),
        ("4.0.6487.2192", 1_172_328),
    }


def test_issue_example_needs_the_other_rows():
    # The x86 Tsmanager row alone could be 2192/246,632 or 21922/46,632; with Tscore it cannot.
    (alone,) = parse("Tsmanager.exe4.0.6487.2192246,63201-Feb-201016:35x86")
    assert versions_sizes(alone) == {("4.0.6487.2192", 246_632), ("4.0.6487.21922", 46_632)}
    tscore, tsmanager = parse(
        "Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86",
        "Tsmanager.exe4.0.6487.2192246,63201-Feb-201016:35x86",
    )
    assert (tscore.version, tscore.size, tsmanager.version, tsmanager.size) == (
        "4.0.6487.2192", 1_172_328, "4.0.6487.2192", 246_632)


def test_build_number_alone():
    # Ntdll 6.1.7601.{175,1751,17514}; Wininet 8.0.7601.17514 only (175149 > 65535).
    ntdll, wininet = parse(
        "Ntdll.dll6.1.7601.175141,732,09620-Nov-201013:27x86",
        "Wininet.dll8.0.7601.17514981,50420-Nov-201013:27x86",
    )
    assert (ntdll.version, ntdll.size, ntdll.ambiguous) == ("6.1.7601.17514", 1_732_096, False)
    assert (wininet.version, wininet.size) == ("8.0.7601.17514", 981_504)


def test_extension_cannot_swallow_version_digits():
    # "Msvcr100.dll1" is not a name (extensions are letters), so 10.0... is never 0.0...
    msvcr, msvcp = parse(
        "Msvcr100.dll10.0.40219.325773,96801-Feb-201016:35x86",
        "Msvcp100.dll10.0.40219.325421,20001-Feb-201016:35x86",
    )
    assert (msvcr.name, msvcr.version, msvcr.size) == ("Msvcr100.dll", "10.0.40219.325", 773_968)
    assert (msvcp.name, msvcp.version, msvcp.size) == ("Msvcp100.dll", "10.0.40219.325", 421_200)


def test_known_digit_extension_is_a_reading():
    (row,) = parse("Install.ps11.0.0.01,02401-Feb-201016:35Not Applicable")
    assert row.ambiguous
    assert {(x.name, x.version, x.size) for x in row.readings} == {
        ("Install.ps", "11.0.0.0", 1_024),
        ("Install.ps1", "1.0.0.0", 1_024),
    }
    assert row.platform == "Not Applicable" and row.name is None


def test_plain_size_next_to_the_day():
    # "1.0.0.1123401-Feb": the size may end before "01-" or before "1-".
    (row,) = parse("Foo.dll1.0.0.1123401-Feb-201016:35x86")
    assert {(x.version, x.size, x.date) for x in row.readings} == {
        ("1.0.0.1", 1234, "01-Feb-2010"),
        ("1.0.0.1", 12340, "1-Feb-2010"),
        ("1.0.0.11", 234, "01-Feb-2010"),
        ("1.0.0.11", 2340, "1-Feb-2010"),
        ("1.0.0.112", 34, "01-Feb-2010"),
        ("1.0.0.112", 340, "1-Feb-2010"),
        ("1.0.0.1123", 4, "01-Feb-2010"),
        ("1.0.0.1123", 40, "1-Feb-2010"),
        ("1.0.0.11234", 0, "1-Feb-2010"),
    }
    assert row.date is None and row.date_iso is None


def test_size_style_version_and_date_evidence_together():
    # Gamma and Delta print sizes with separators, so Foo's plain 1234/12340/2340 go;
    # Delta is certainly 1.0.0.112, leaving 34/01-Feb and 340/1-Feb; the other rows print 01-Feb.
    gamma, foo, delta = parse(
        "Gamma.sysNot Applicable4,09601-Feb-201016:35x64",
        "Foo.dll1.0.0.1123401-Feb-201016:35x86",
        "Delta.sys1.0.0.112100,00001-Feb-201016:35x86",
    )
    assert (foo.version, foo.size, foo.date, foo.ambiguous) == ("1.0.0.112", 34, "01-Feb-2010", False)
    assert (delta.version, delta.size) == ("1.0.0.112", 100_000)
    assert (gamma.version, gamma.size) == ("Not Applicable", 4_096)


def test_size_style_alone():
    # Gamma prints 4,096, so Foo's plain 1234/12340/2340 readings go; Gamma's 01-Feb then
    # removes the 1-Feb readings; nothing tells 11/234, 112/34 and 1123/4 apart.
    gamma, foo = parse(
        "Gamma.sysNot Applicable4,09601-Feb-201016:35x64",
        "Foo.dll1.0.0.1123401-Feb-201016:35x86",
    )
    assert foo.ambiguous and not gamma.ambiguous
    assert {(x.version, x.size, x.date) for x in foo.readings} == {
        ("1.0.0.11", 234, "01-Feb-2010"),
        ("1.0.0.112", 34, "01-Feb-2010"),
        ("1.0.0.1123", 4, "01-Feb-2010"),
    }
    assert foo.date == "01-Feb-2010" and foo.size is None


def test_single_space_separated_cells():
    text = (
        "File name File version File size Date Time Platform\n"
        "Mcs.msi Not Applicable 7,280,640 01-Feb-2010 16:35 Not Applicable\n"
        "Tscore.dll 4.0.6487.2192 1,172,328 01-Feb-2010 16:35 x86\n"
        "My file.dll 1.0 12 1-Feb-2010 6:35 arm64\n"
    )
    table = parse_table(text)
    assert table.format == "squashed"
    assert [(r.name, r.version, r.size, r.date, r.time, r.platform, r.ambiguous) for r in table.rows] == [
        ("Mcs.msi", "Not Applicable", 7_280_640, "01-Feb-2010", "16:35", "Not Applicable", False),
        ("Tscore.dll", "4.0.6487.2192", 1_172_328, "01-Feb-2010", "16:35", "x86", False),
        ("My file.dll", "1.0", 12, "1-Feb-2010", "06:35", "ARM64", False),
    ]


def test_other_column_order_glued():
    header = "PlatformFile nameFile sizeFile versionDateTime\n"
    # size then version: "2,133,8644.0..." splits only after "864" (groups have 3 digits), but
    # "...219201-Feb" is 2192 + 01-Feb or 21920 + 1-Feb.
    (row,) = parse_table(header + "x64Tscore.dll2,133,8644.0.6487.219201-Feb-201016:35\n").rows
    assert (row.platform, row.name, row.size, row.time, row.ambiguous) == (
        "x64", "Tscore.dll", 2_133_864, "16:35", True)
    assert {(x.version, x.date) for x in row.readings} == {
        ("4.0.6487.2192", "01-Feb-2010"), ("4.0.6487.21920", "1-Feb-2010")}
    # A row whose date is certain (after "Not Applicable") prints 01-Feb-2010: that decides.
    rows = parse_table(header
                       + "x64Tscore.dll2,133,8644.0.6487.219201-Feb-201016:35\n"
                       + "x86Tscore.dll1,172,3284.0.6487.219201-Feb-201016:35\n"
                       + "Not ApplicableMcs.msi7,280,640Not Applicable01-Feb-201016:35\n").rows
    assert [(r.name, r.size, r.version, r.date, r.ambiguous) for r in rows] == [
        ("Tscore.dll", 2_133_864, "4.0.6487.2192", "01-Feb-2010", False),
        ("Tscore.dll", 1_172_328, "4.0.6487.2192", "01-Feb-2010", False),
        ("Mcs.msi", 7_280_640, "Not Applicable", "01-Feb-2010", False),
    ]


def test_version_parts_are_limited_to_65535():
    # 65536 is not a version part, so only 6553/61,234 and 655/361,234 remain.
    (row,) = parse("A.dll1.0.0.655361,23401-Feb-201016:35x86")
    assert versions_sizes(row) == {("1.0.0.655", 361_234), ("1.0.0.6553", 61_234)}


def test_fewest_versions_beats_counting():
    # A: 14/141/1415, B: 14/141/1416 (a shorter shared "141" fits both), but C can only be
    # 1415 or 14151 and D only 1416 or 14162.  {1415, 1416} is the only pair that explains
    # all four rows; 141 would need two more versions.
    a, b, c, d = parse(
        "A.dll10.0.19041.14151,234,56701-Feb-202106:00x64",
        "B.dll10.0.19041.14162,345,67801-Feb-202106:00x64",
        "C.dll10.0.19041.1415123,45601-Feb-202106:00x64",
        "D.dll10.0.19041.1416234,56701-Feb-202106:00x64",
    )
    assert [(r.version, r.size, r.ambiguous) for r in (a, b, c, d)] == [
        ("10.0.19041.1415", 1_234_567, False),
        ("10.0.19041.1416", 2_345_678, False),
        ("10.0.19041.1415", 123_456, False),
        ("10.0.19041.1416", 234_567, False),
    ]


def test_limit_two_rows_with_close_versions_lose_their_true_reading():
    # Documented limitation: by the "one consistent build" rule, 14 or 141 explains both rows,
    # so 1415 and 1416 are set aside.  The rows stay ambiguous (14 or 141), and the set-aside
    # readings hold the truth.
    a, b = parse(
        "A.dll10.0.19041.14151,234,56701-Feb-202106:00x64",
        "B.dll10.0.19041.14162,345,67801-Feb-202106:00x64",
    )
    assert a.ambiguous and b.ambiguous
    assert versions_sizes(a) == {("10.0.19041.14", 151_234_567), ("10.0.19041.141", 51_234_567)}
    assert versions_sizes(b) == {("10.0.19041.14", 162_345_678), ("10.0.19041.141", 62_345_678)}
    assert {(x.version, x.size) for x in a.alternatives} == {("10.0.19041.1415", 1_234_567)}
    assert {(x.version, x.size) for x in b.alternatives} == {("10.0.19041.1416", 2_345_678)}


def test_inferred_and_alternatives():
    mcs, tscore = parse(
        "Mcs.msiNot Applicable7,280,64001-Feb-201016:35Not Applicable",
        "Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86",
        "Tsmanager.exe4.0.6487.2192246,63201-Feb-201016:35x86",
    )[:2]
    assert not mcs.inferred and mcs.alternatives == ()
    assert tscore.inferred and not tscore.ambiguous and tscore.readings == ()
    assert {(x.version, x.size) for x in tscore.alternatives} == {
        ("4.0.6487.21", 921_172_328), ("4.0.6487.219", 21_172_328)}
    assert "inferred" not in tscore.to_dict() and "alternatives" not in tscore.to_dict()
