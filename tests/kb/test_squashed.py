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
    # Without Delta, one version (51 or 512) explains both rows, but reading Alpha as 5123
    # costs only one more version (Gamma as 5): not enough to set any reading aside.
    alpha, gamma = parse(
        "Alpha.dll1.0.0.51234,56701-Feb-201016:35x86",
        "Gamma.exe1.0.0.5129,99901-Feb-201016:35x86",
    )
    assert alpha.ambiguous and gamma.ambiguous
    assert versions_sizes(alpha) == {("1.0.0.51", 234_567), ("1.0.0.512", 34_567), ("1.0.0.5123", 4_567)}
    assert versions_sizes(gamma) == {("1.0.0.5", 129_999), ("1.0.0.51", 29_999), ("1.0.0.512", 9_999)}
    assert (alpha.version, alpha.size, alpha.platform) == (None, None, "x86")
    assert alpha.alternatives == ()


def test_a_single_row_has_no_evidence():
    (row,) = parse("Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86")
    assert row.ambiguous
    assert versions_sizes(row) == {
        ("4.0.6487.21", 921_172_328),
        ("4.0.6487.219", 21_172_328),
        ("4.0.6487.2192", 1_172_328),
    }


def test_issue_example_needs_the_other_rows():
    tscore = "Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86"      # 21, 219, 2192
    tsmanager = "Tsmanager.exe4.0.6487.2192246,63201-Feb-201016:35x86"  # 2192, 21922
    tsmboot = "Tsmbootstrap.exe4.0.6487.2192354,66401-Feb-201016:35x86"  # 2192, 21923
    (alone,) = parse(tsmanager)
    assert versions_sizes(alone) == {("4.0.6487.2192", 246_632), ("4.0.6487.21922", 46_632)}
    # Two rows: {2192} against {219, 21922} is one version against two: still ambiguous.
    a, b = parse(tscore, tsmanager)
    assert a.ambiguous and b.ambiguous
    assert versions_sizes(b) == {("4.0.6487.2192", 246_632), ("4.0.6487.21922", 46_632)}
    # Three rows: any reading but 2192 needs three versions against one.
    a, b, c = parse(tscore, tsmanager, tsmboot)
    assert [(r.version, r.size, r.ambiguous) for r in (a, b, c)] == [
        ("4.0.6487.2192", 1_172_328, False),
        ("4.0.6487.2192", 246_632, False),
        ("4.0.6487.2192", 354_664, False),
    ]


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
    # Msvcr 325/3257/32577, Msvcp 325/3254/32542, Atl 325/3251/32513: only 325 is shared.
    msvcr, msvcp, atl = parse(
        "Msvcr100.dll10.0.40219.325773,96801-Feb-201016:35x86",
        "Msvcp100.dll10.0.40219.325421,20001-Feb-201016:35x86",
        "Atl100.dll10.0.40219.325138,05601-Feb-201016:35x86",
    )
    assert (msvcr.name, msvcr.version, msvcr.size) == ("Msvcr100.dll", "10.0.40219.325", 773_968)
    assert (msvcp.name, msvcp.version, msvcp.size) == ("Msvcp100.dll", "10.0.40219.325", 421_200)
    assert (atl.name, atl.version, atl.size) == ("Atl100.dll", "10.0.40219.325", 138_056)


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
    # A: 14/141/1415, B: 14/141/1416 (a shorter shared "141" fits both), but C1/C2 can only be
    # 1415 or 1415x and D1/D2 only 1416 or 1416x.  {1415, 1416} explains all six rows;
    # reading A or B as 14 or 141 needs four versions.  (Counting rows per version would
    # tie 141 with 1415 and 1416.)
    rows = parse(
        "A.dll10.0.19041.14151,234,56701-Feb-202106:00x64",
        "B.dll10.0.19041.14162,345,67801-Feb-202106:00x64",
        "C1.dll10.0.19041.1415123,45601-Feb-202106:00x64",
        "C2.dll10.0.19041.1415234,56701-Feb-202106:00x64",
        "D1.dll10.0.19041.1416234,56701-Feb-202106:00x64",
        "D2.dll10.0.19041.1416345,67801-Feb-202106:00x64",
    )
    assert [(r.version, r.size, r.ambiguous) for r in rows] == [
        ("10.0.19041.1415", 1_234_567, False),
        ("10.0.19041.1416", 2_345_678, False),
        ("10.0.19041.1415", 123_456, False),
        ("10.0.19041.1415", 234_567, False),
        ("10.0.19041.1416", 234_567, False),
        ("10.0.19041.1416", 345_678, False),
    ]


def test_two_rows_with_close_versions_stay_ambiguous():
    # 14 or 141 would explain both rows with one version, the truth (1415, 1416) needs two:
    # one version against two is not evidence enough, so every reading stays.
    a, b = parse(
        "A.dll10.0.19041.14151,234,56701-Feb-202106:00x64",
        "B.dll10.0.19041.14162,345,67801-Feb-202106:00x64",
    )
    assert a.ambiguous and b.ambiguous
    assert versions_sizes(a) == {("10.0.19041.14", 151_234_567), ("10.0.19041.141", 51_234_567),
                                 ("10.0.19041.1415", 1_234_567)}
    assert versions_sizes(b) == {("10.0.19041.14", 162_345_678), ("10.0.19041.141", 62_345_678),
                                 ("10.0.19041.1416", 2_345_678)}


def test_inferred_and_alternatives():
    mcs, tscore, _, _ = parse(
        "Mcs.msiNot Applicable7,280,64001-Feb-201016:35Not Applicable",
        "Tscore.dll4.0.6487.21921,172,32801-Feb-201016:35x86",
        "Tsmanager.exe4.0.6487.2192246,63201-Feb-201016:35x86",
        "Tsmbootstrap.exe4.0.6487.2192354,66401-Feb-201016:35x86",
    )
    assert not mcs.inferred and mcs.alternatives == ()
    assert tscore.inferred and not tscore.ambiguous and tscore.readings == ()
    assert {(x.version, x.size) for x in tscore.alternatives} == {
        ("4.0.6487.21", 921_172_328), ("4.0.6487.219", 21_172_328)}
    assert "inferred" not in tscore.to_dict() and "alternatives" not in tscore.to_dict()


def test_a_row_whose_readings_are_each_forced_elsewhere_keeps_both():
    # Certain rows use 1.0.0.4 (4 then 10,000: "41" would leave "0,000") and 1.0.0.41
    # (41 then 100,000); the middle row could be either, and both versions are in use.
    four, middle, fortyone = parse(
        "P.dll1.0.0.410,00001-Feb-201016:35x86",
        "Q.dll1.0.0.411,00001-Feb-201016:35x86",
        "R.dll1.0.0.41100,00001-Feb-201016:35x86",
    )
    assert (four.version, four.size, fortyone.version, fortyone.size) == ("1.0.0.4", 10_000, "1.0.0.41", 100_000)
    assert middle.ambiguous
    assert versions_sizes(middle) == {("1.0.0.4", 11_000), ("1.0.0.41", 1_000)}


def test_known_limit_versions_one_digit_apart_read_as_their_prefix():
    # Documented limit: A (1753/17531), B (1753/17532), C (1753/17533) are all explained by
    # the single version 1753; the truth needs three.  The rows are read as 1753, marked
    # inferred, and the true readings are kept in alternatives.
    rows = parse(
        "A.dll6.1.7601.1753112,345,67801-Feb-201116:35x86",
        "B.dll6.1.7601.1753223,456,78901-Feb-201116:35x86",
        "C.dll6.1.7601.1753334,567,89001-Feb-201116:35x86",
    )
    assert [(r.version, r.size, r.inferred, r.ambiguous) for r in rows] == [
        ("6.1.7601.1753", 112_345_678, True, False),
        ("6.1.7601.1753", 223_456_789, True, False),
        ("6.1.7601.1753", 334_567_890, True, False),
    ]
    assert [{(x.version, x.size) for x in r.alternatives} for r in rows] == [
        {("6.1.7601.17531", 12_345_678)}, {("6.1.7601.17532", 23_456_789)}, {("6.1.7601.17533", 34_567_890)}]


def test_a_version_really_used_elsewhere_does_not_decide():
    # P and Q can only be 1.0.0.1; S, T, U share only 149.  R could be 1, 14 or 149: the table
    # really uses both 1 and 149, so nothing decides R, which must stay ambiguous (14 goes:
    # reading R as 14 alone would leave P and Q without a version).
    p, q, r, s_, t, u = parse(
        "P.dll1.0.0.1100,00001-Feb-201016:35x86",      # 1/100,000 (11 would leave "00,000")
        "Q.dll1.0.0.1200,00001-Feb-201016:35x86",      # 1/200,000
        "R.dll1.0.0.1495,123,45601-Feb-201016:35x86",  # 1/495,123,456 14/95,123,456 149/5,123,456
        "S.dll1.0.0.149123,45601-Feb-201016:35x86",    # 149/123,456 1491/23,456 14912/3,456
        "T.dll1.0.0.149234,56701-Feb-201016:35x86",    # 149/234,567 1492/34,567 14923/4,567
        "U.dll1.0.0.149345,67801-Feb-201016:35x86",    # 149/345,678 1493/45,678 14934/5,678
    )
    assert (p.version, q.version) == ("1.0.0.1", "1.0.0.1")
    assert [(x.version, x.size) for x in (s_, t, u)] == [
        ("1.0.0.149", 123_456), ("1.0.0.149", 234_567), ("1.0.0.149", 345_678)]
    assert r.ambiguous
    assert versions_sizes(r) == {("1.0.0.1", 495_123_456), ("1.0.0.149", 5_123_456)}
