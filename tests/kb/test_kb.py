"""Published file-information tables: every input form, sections, normalisation.

Expected values are written by hand from the fixture text (fixtures/kb/) or from the
table in the issue, never produced by the parser.
"""
from __future__ import annotations

import json

import pytest

from conftest import FIXTURES, KB_DIR
from msitools.errors import KbParseError
from msitools.kb import NOT_APPLICABLE, PublishedTable, parse_file, parse_table

KB = FIXTURES / "kb"
NA = "Not Applicable"
SCCM = "System Center Configuration Manager 2007 file information notes"

# The issue's expected parse of KB 2586709: name, version, size, date, time, platform.
KB2586709 = [
    ("Mcs.msi", NA, 7_280_640, "01-Feb-2010", "16:35", NA),
    ("Pxe.msi", NA, 5_761_024, "01-Feb-2010", "16:35", NA),
    ("Sccm2007ac-sp2-kb2586709-x86-enu.msp", NA, 904_192, "01-Feb-2010", "16:35", NA),
    ("Tscore.dll", "4.0.6487.2192", 1_172_328, "01-Feb-2010", "16:35", "x86"),
    ("Tsmanager.exe", "4.0.6487.2192", 246_632, "01-Feb-2010", "16:35", "x86"),
    ("Tsmbootstrap.exe", "4.0.6487.2192", 354_664, "01-Feb-2010", "16:35", "x86"),
    ("Tscore.dll", "4.0.6487.2192", 2_133_864, "01-Feb-2010", "16:35", "x64"),
    ("Tsmanager.exe", "4.0.6487.2192", 375_656, "01-Feb-2010", "16:35", "x64"),
    ("Tsmbootstrap.exe", "4.0.6487.2192", 548_712, "01-Feb-2010", "16:35", "x64"),
]


def tuples(table: PublishedTable) -> list[tuple]:
    return [(r.name, r.version, r.size, r.date, r.time, r.platform) for r in table.rows]


def kb_file(name: str):
    path = KB_DIR / name
    if not path.exists():
        pytest.skip(f"{name} not found in {KB_DIR} (../shared is not beside the project)")
    return path


# --- the flagship article --------------------------------------------------------------


def test_kb2586709_squashed_text_gives_the_issue_table():
    table = parse_file(kb_file("kb2586709.txt"))
    assert tuples(table) == KB2586709
    assert table.format == "squashed"
    assert [r.line for r in table.rows] == list(range(57, 66))
    assert {r.section for r in table.rows} == {SCCM}
    assert not table.ambiguous_rows
    assert len(table.tables) == 1
    info = table.tables[0]
    assert info.line == 56
    assert info.labels == ("File name", "File version", "File size", "Date", "Time", "Platform")
    assert info.fields == ("name", "version", "size", "date", "time", "platform")


def test_kb2586709_json_shape():
    doc = json.loads(json.dumps(parse_file(kb_file("kb2586709.txt")).to_dict()))
    assert list(doc) == ["rows", "sections"]
    assert len(doc["rows"]) == 9
    first, tscore = doc["rows"][0], doc["rows"][3]
    assert first["name"] == "Mcs.msi" and first["version"] == NA and first["platform"] == NA
    assert tscore == {
        "name": "Tscore.dll",
        "version": "4.0.6487.2192",
        "size": 1172328,
        "date": "01-Feb-2010",
        "date_iso": "2010-02-01",
        "time": "16:35",
        "platform": "x86",
        "section": SCCM,
        "line": 60,
        "ambiguous": False,
        "printed": {"name": "Tscore.dll", "version": "4.0.6487.2192", "size": "1,172,328", "date": "01-Feb-2010",
                    "time": "16:35", "platform": "x86"},
    }
    assert doc["sections"] == [{"title": SCCM, "context": "", "platform": None, "rows": doc["rows"]}]
    assert all(isinstance(r["size"], int) and "readings" not in r for r in doc["rows"])


@pytest.mark.parametrize(
    "name, fmt, section, first_line",
    [
        ("kb2586709.html", "html", SCCM, 21),
        ("kb2586709.csv", "csv", "", 2),
        ("kb2586709.md", "markdown", SCCM, 11),
        ("kb2586709_tabbed.txt", "text", SCCM, 6),
        ("kb2586709_spaced.txt", "text", SCCM, 4),
    ],
)
def test_kb2586709_rewritten_by_hand_in_every_format(name, fmt, section, first_line):
    table = parse_file(KB / name)
    assert tuples(table) == KB2586709
    assert table.format == fmt
    assert {r.section for r in table.rows} == {section}
    assert table.rows[0].line == first_line
    assert not table.ambiguous_rows


def test_html_header_order_entities_and_line_numbers():
    table = parse_file(KB / "kb2586709.html")
    info = table.tables[0]
    assert info.line == 18
    assert info.labels == ("Platform", "File name", "Date", "Time", "File size", "File version")
    assert info.fields == ("platform", "name", "date", "time", "size", "version")
    # <tr> lines; the Sccm row spreads over lines 23-30; the unclosed <td> row is line 33
    assert [r.line for r in table.rows] == [21, 22, 23, 31, 32, 33, 34, 35, 36]
    # the header inside <script> and the <style> text are not tables
    assert len(table.tables) == 1


def test_tabbed_blank_line_inside_table_and_prose_after_it():
    table = parse_file(KB / "kb2586709_tabbed.txt")
    assert [r.line for r in table.rows] == [6, 7, 8, 9, 10, 11, 13, 14, 15]
    assert len(table.tables) == 1


def test_explicit_format_restricts_detection():
    assert parse_file(KB / "kb2586709.csv", format="csv").format == "csv"
    assert tuples(parse_file(KB / "kb2586709_tabbed.txt", format="text")) == KB2586709
    with pytest.raises(KbParseError, match="no file-information table"):
        parse_file(KB / "kb2586709.csv", format="markdown")
    with pytest.raises(KbParseError, match="no file-information table"):
        parse_file(KB / "kb2586709.md", format="html")


# --- other hand-written tables ------------------------------------------------------


def test_sql_cumulative_update_html():
    table = parse_file(KB / "sql2008r2_sp1_cu.html")
    core = "SQL Server 2008 R2 Database Services Core Instance"
    ssas = "SQL Server 2008 R2 Analysis Services"
    rs = "Reporting Services & Integration Services"
    setup = "SQL Server 2008 R2 Setup Support Files"
    got = [(r.line, r.section, r.name, r.version, r.size, r.date, r.time, r.platform) for r in table.rows]
    assert got == [
        (13, core, "Sqlservr.exe", "2009.100.2772.0", 42_528_608, "16-Jul-2011", "02:14", "x86"),
        (14, core, "Sqlaccess.dll", "2009.100.2772.0", 431_968, "16-Jul-2011", "02:14", "x86"),
        (15, core, "Sqlaccess.dll", "2009.100.1600.1", 431_456, "3-Apr-2010", "18:57", "x86"),
        (17, ssas, "Msmdsrv.exe", "10.50.2772.0", 31_275_872, "16-Jul-2011", "02:14", "x86"),
        (18, ssas, "Msmdlocal.dll", "10.50.2772.0", 24_027_488, "16-Jul-2011", "02:14", "x86"),
        (25, core, "Sqlservr.exe", "2009.100.2772.0", 63_557_472, "16-Jul-2011", "02:19", "x64"),
        (26, core, "Sqlaccess.dll", "2009.100.2772.0", 503_648, "16-Jul-2011", "02:19", "x64"),
        (27, core, "Sqlaccess.dll", "2009.100.2772.0", 431_968, "16-Jul-2011", "02:14", "x86"),
        (28, core, "Sqlaccess.dll", "2009.100.2772.0", 431_968, "16-Jul-2011", "02:14", "x86"),
        (34, rs, "Reportingservicesservice.exe", "2009.100.2772.0", 2_533_216, "16-Jul-2011", "02:40", "IA-64"),
        (35, rs, "Msdtssrvr.exe", "2009.100.2772.0", 403_808, "16-Jul-2011", "02:40", "IA-64"),
        (38, setup, "Microsoft.sqlserver.chainer.infrastructure.dll", "10.50.2772.0", 353_632, "16-Jul-2011",
         "02:40", "x86"),
        (39, setup, "Microsoft.sqlserver.chainer.infrastructure.dll", "10.50.2772.0", 353_632, "16-Jul-2011",
         "02:40", "x86"),
        (40, setup, "Sqlsetupbootstrapper.dll", NA, 1_043_808, "16-Jul-2011", "02:40", NA),
    ]
    assert table.rows[2].date_iso == "2010-04-03"
    # SP requirement / Service branch are recognised and ignored; a header may repeat in a table
    assert [t.line for t in table.tables] == [12, 24, 33, 37]
    assert table.tables[1].fields == (None, None, "platform", "time", "date", "size", "version", "name")
    assert table.tables[0].labels[-2:] == ("SP requirement", "Service branch")


def test_windows_2003_squashed_with_ignored_columns_and_sections():
    table = parse_file(KB / "win2003_mrxsmb_squashed.txt")
    x86 = "Windows Server 2003, x86-based versions"
    x64 = "Windows Server 2003 and Windows XP Professional, x64-based versions"
    ia64 = "Windows Server 2003, IA-64-based versions"
    got = [(r.line, r.section, r.name, r.version, r.size, r.time, r.platform) for r in table.rows]
    assert got == [
        (5, x86, "Mrxsmb.sys", "5.2.3790.4671", 455_680, "13:17", "x86"),
        (6, x86, "Rdbss.sys", "5.2.3790.4671", 175_616, "13:17", "x86"),
        (7, x86, "Mrxsmb.sys", "5.2.3790.4672", 455_680, "13:22", "x86"),
        (8, x86, "Rdbss.sys", "5.2.3790.4672", 175_616, "13:22", "x86"),
        (12, x64, "Mrxsmb.sys", "5.2.3790.4671", 912_896, "13:18", "x64"),
        (13, x64, "Wmrxsmb.sys", "5.2.3790.4671", 455_680, "13:17", "x86"),
        (14, x64, "Mrxsmb.sys", "5.2.3790.4672", 913_408, "13:22", "x64"),
        (15, x64, "Wmrxsmb.sys", "5.2.3790.4672", 455_680, "13:22", "x86"),
        (17, ia64, "Mrxsmb.sys", "5.2.3790.4671", 1_471_360, "13:17", "IA-64"),
        (18, ia64, "Wmrxsmb.sys", "5.2.3790.4671", 455_680, "13:17", "x86"),
        (19, ia64, "Mrxsmb.sys", "5.2.3790.4672", 1_473_408, "13:22", "IA-64"),
        (20, ia64, "Wmrxsmb.sys", "5.2.3790.4672", 455_680, "13:22", "x86"),
    ]
    assert {r.date for r in table.rows} == {"24-Mar-2010"}
    assert not table.ambiguous_rows
    # the IA-64 section has no header of its own: it continues the x64 table
    assert [(t.line, t.rows) for t in table.tables] == [(4, 4), (11, 8)]
    assert table.tables[0].fields[-2:] == (None, None)


def test_windows_platform_sections_markdown():
    table = parse_file(KB / "win2008r2_platforms.md")
    x86 = "For all supported x86-based versions of Windows 7"
    x64 = "For all supported x64-based versions of Windows 7 and of Windows Server 2008 R2"
    ia64 = "For all supported IA-64-based versions of Windows Server 2008 R2"
    manifest = "Amd64_microsoft-windows-win32k_31bf3856ad364e35_6.1.7601.17803_none_9f1bc8ec5a27b5f1.manifest"
    got = [(r.section, r.name, r.version, r.size, r.time, r.platform) for r in table.rows]
    assert got == [
        (x86, "Win32k.sys", "6.1.7600.16988", 2_352_128, "05:41", "x86"),
        (x86, "Win32k.sys", "6.1.7600.21165", 2_355_712, "05:36", "x86"),
        (x86, "Win32k.sys", "6.1.7601.17803", 2_349_568, "05:33", "x86"),
        (x64, "Win32k.sys", "6.1.7600.16988", 3_140_608, "06:02", "x64"),
        (x64, "Win32k.sys", "6.1.7601.17803", 3_142_656, "05:54", "x64"),
        (x64, manifest, NA, 4_106, "06:33", NA),
        (ia64, "Win32k.sys", "6.1.7600.16988", 7_514_112, "05:13", "IA-64"),
        (ia64, "Win32k.sys", "6.1.7601.17803", 7_511_552, "05:06", "IA-64"),
        (ia64, "Wow64win.dll", "6.1.7601.17803", 1_025_024, "05:06", "IA-64"),
        (ia64, "Wow64win.dll", "6.1.7601.17803", 1_025_024, "05:06", "IA-64"),
    ]
    assert table.rows[-1].to_dict() != table.rows[-2].to_dict()  # identical rows kept; lines differ
    assert [r.line for r in table.rows[-2:]] == [27, 28]
    assert table.tables[1].fields == ("platform", "name", "size", "version", "date", "time")


def test_windows10_arm64_csv():
    table = parse_file(KB / "win10_arm64.csv")
    cat = "Microsoft-windows-os-kernel-package~31bf3856ad364e35~arm64~~10.0.19041.1415.cat"
    v = "10.0.19041.1415"
    got = [(r.name, r.version, r.size, r.date, r.date_iso, r.time, r.platform) for r in table.rows]
    assert got == [
        ("Ntoskrnl.exe", v, 10_297_704, "09-Dec-2021", "2021-12-09", "06:12", "ARM64"),
        ("Ntoskrnl.exe", v, 10_297_704, "09-Dec-2021", "2021-12-09", "06:12", "ARM64"),
        ("Kernel32.dll", v, 629_472, "09-Dec-2021", "2021-12-09", "05:48", "x86"),
        ("Kernel32.dll", v, 1_134_352, "09-Dec-2021", "2021-12-09", "06:03", "ARM64"),
        (cat, None, 11_214, "09-Dec-2021", "2021-12-09", "07:40", NA),  # empty version cell
        ("Hal.dll", v, 1_077_760, "9-Dec-2021", "2021-12-09", "06:03", "ARM64"),  # unquoted 1,077,760
        ("Ci.dll", v, 812_032, "2021-12-09", "2021-12-09", "06:03", "x64"),
    ]
    assert table.format == "csv" and len(table.rows) == 7


def test_build_number_evidence_resolves_rows_with_different_full_versions():
    table = parse_file(KB / "win7_build_squashed.txt")
    mum = "Package_for_kb2345678_rtm~31bf3856ad364e35~x86~~6.1.1.0.mum"
    assert tuples(table) == [
        ("Ntdll.dll", "6.1.7601.17514", 1_732_096, "20-Nov-2010", "13:27", "x86"),
        ("Mshtml.tlb", "8.0.7601.17514", 12_288, "20-Nov-2010", "04:23", "x86"),
        ("Wininet.dll", "8.0.7601.17514", 981_504, "20-Nov-2010", "13:27", "x86"),
        (mum, NA, 1_869, "20-Nov-2010", "13:27", NA),
    ]
    assert {r.section for r in table.rows} == {"For all supported x86-based versions of Windows 7"}


def test_ambiguous_rows_are_reported_not_guessed():
    table = parse_file(KB / "squashed_ambiguous.txt")
    rows = table.rows
    assert [r.name for r in rows] == ["Alpha.dll", "Beta.dll", "Gamma.sys", "Delta.dll", "Epsilon.dll"]
    assert [r.ambiguous for r in rows] == [True, True, False, True, True]

    def readings(row):
        return {(x.version, x.size) for x in row.readings}

    assert readings(rows[0]) == {("1.0.0.51", 234_567), ("1.0.0.512", 34_567), ("1.0.0.5123", 4_567)}
    assert readings(rows[1]) == {("2.0.0.7", 123_456), ("2.0.0.71", 23_456), ("2.0.0.712", 3_456)}
    # two rows that could corroborate each other either way stay ambiguous
    assert readings(rows[3]) == {("3.1.2.4", 11_000), ("3.1.2.41", 1_000)}
    assert readings(rows[4]) == {("3.1.2.4", 11_000), ("3.1.2.41", 1_000)}
    gamma = rows[2]
    assert (gamma.version, gamma.size, gamma.platform, gamma.readings) == (NA, 4_096, "x64", ())
    # fields the readings agree on are kept, the others are None
    alpha = rows[0].to_dict()
    assert (alpha["name"], alpha["version"], alpha["size"], alpha["date"], alpha["time"], alpha["platform"]) == (
        "Alpha.dll", None, None, "01-Feb-2010", "16:35", "x86")
    assert alpha["ambiguous"] is True
    assert {(x["version"], x["size"]) for x in alpha["readings"]} == readings(rows[0])
    assert all(x["name"] == "Alpha.dll" and x["date_iso"] == "2010-02-01" for x in alpha["readings"])
    assert "readings" not in rows[2].to_dict()


def test_several_dialects_in_one_document():
    text = (
        "x86 files\n"
        "| File name | File version | File size |\n"
        "|---|---|---|\n"
        "| A.dll | 1.0.0.1 | 1,024 |\n"
        "\n"
        "x64 files\n"
        "File name\tFile size\tFile version\n"
        "A.dll\t2,048\t1.0.0.1\n"
    )
    table = parse_table(text, source="mixed.txt")
    assert table.format == "mixed"
    assert [(t.format, t.section) for t in table.tables] == [("markdown", "x86 files"), ("text", "x64 files")]
    assert [(r.name, r.size, r.section, r.date, r.platform) for r in table.rows] == [
        ("A.dll", 1_024, "x86 files", None, None),
        ("A.dll", 2_048, "x64 files", None, None),
    ]


def test_section_line_inside_tabbed_table():
    text = (
        "File name\tFile version\tFile size\tPlatform\n"
        "For all supported x86-based versions\n"
        "A.dll\t1.0\t10\tx86\n"
        "\n"
        "For all supported ARM64-based versions:\n"
        "\n"
        "A.dll\t1.0\t12\tarm64\n"
        "Note This table lists the files.\n"
        "Status\n"
    )
    table = parse_table(text)
    assert [(r.section, r.size, r.platform, r.line) for r in table.rows] == [
        ("For all supported x86-based versions", 10, "x86", 3),
        ("For all supported ARM64-based versions", 12, "ARM64", 7),
    ]


def test_values_are_normalised():
    text = (
        "File name,File version,File size,Date,Time,Platform\n"
        "a.dll,NOT APPLICABLE,0,01-feb-2010,6:05,AMD64\n"
        "b.dll,n/a,999,29-Feb-2012,23:59:59,ia-64\n"
        "c.dll,65535.0.1,\"1,000\",01\u2011Feb\u20112010,00:00,not Applicable\n"
    )
    rows = parse_table(text).rows
    assert [(r.version, r.size, r.date, r.date_iso, r.time, r.platform) for r in rows] == [
        (NOT_APPLICABLE, 0, "01-feb-2010", "2010-02-01", "06:05", "x64"),
        (NOT_APPLICABLE, 999, "29-Feb-2012", "2012-02-29", "23:59:59", "IA-64"),
        ("65535.0.1", 1_000, "01-Feb-2010", "2010-02-01", "00:00", NOT_APPLICABLE),
    ]


def test_header_variants():
    text = ("Filename\tVersion\tSize (bytes)\tDate (UTC)\tTime (UTC)\tCPU\tAttributes\n"
            "x.sys\t1.2\t3\t01-Jan-2020\t10:00\tx86\tA\n")
    table = parse_table(text)
    assert table.tables[0].fields == ("name", "version", "size", "date", "time", "platform", None)
    assert tuples(table) == [("x.sys", "1.2", 3, "01-Jan-2020", "10:00", "x86")]


def test_parse_file_decodings(tmp_path):
    body = "Mise à jour – fichiers\nFile name\tFile size\tFile version\nA.dll\t1,024\t1.0\n"
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes(b"\xff\xfe" + body.encode("utf-16-le"))
    cp1252 = tmp_path / "cp1252.txt"
    cp1252.write_bytes(body.replace("\n", "\r\n").encode("cp1252"))
    utf8 = tmp_path / "utf8.txt"
    utf8.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    for path in (utf16, cp1252, utf8):
        table = parse_file(path)
        assert [(r.name, r.size, r.section) for r in table.rows] == [("A.dll", 1_024, "Mise à jour – fichiers")]
        assert table.source == str(path)


def test_text_mentioning_a_table_tag_falls_back_to_text():
    text = "Paste the rows into a <table> element.\nFile name\tFile size\tFile version\nA.dll\t10\t1.0\n"
    table = parse_table(text)
    assert table.format == "text"
    assert tuples(table) == [("A.dll", "1.0", 10, None, None, None)]
    with pytest.raises(KbParseError, match="no file-information table"):
        parse_table(text, format="html")
