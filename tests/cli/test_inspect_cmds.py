"""CLI tests (click's runner) for info/tables/table/streams/stream/export, including bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from msitools.cli import cli
from msitools.container.streamname import encode_stream_name

from conftest import FIXTURES, corpus_file, require_tool
from malform import Cfb

HELLO = FIXTURES / "wixl" / "hello.msi"


def run(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def test_info_json_shape():
    result = run("info", HELLO, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"path", "kind", "summary", "tables", "streams", "storages"}
    assert data["kind"] == "msi"
    assert data["summary"]["platform"] == "Intel" and data["summary"]["languages"] == [1033]
    assert data["summary"]["package_code"].startswith("{")
    assert data["tables"]["File"] == 3
    assert {"name": "hello.cab", "size": 583} in data["streams"]


def test_info_text_lists_everything():
    result = run("info", HELLO)
    assert result.exit_code == 0
    for word in ("MSI", "Summary information", "File", "hello.cab", "Substorages"):
        assert word in result.output


def test_info_msp(corpus):
    data = json.loads(run("info", corpus("WPF2_32.msp"), "--format", "json").output)
    assert data["kind"] == "msp"
    s = data["summary"]
    assert s["patch_code"] == "{09966C32-C34D-4FF4-8C7E-94A9630DDEF8}"
    assert s["obsoleted_patch_codes"] == []
    assert s["target_product_codes"] == ["{2BA00471-0328-3743-93BD-FA813353A783}"]
    assert s["transforms"] == ["T1ToU1", "#T1ToU1"]
    assert sorted(st["name"] for st in data["storages"]) == ["#T1ToU1", "T1ToU1"]
    assert data["tables"] == {"MsiPatchMetadata": 8, "MsiPatchSequence": 3}


def test_tables_json_and_csv():
    data = json.loads(run("tables", HELLO, "--format", "json").output)
    by_name = {t["name"]: t for t in data["tables"]}
    assert by_name["File"]["rows"] == 3
    assert by_name["File"]["columns"][:3] == ["File", "Component_", "FileName"]
    csv_out = run("tables", HELLO, "--format", "csv").output.splitlines()
    assert csv_out[0] == "name,rows,columns"
    assert "File,3,8" in csv_out


def test_table_json_shape_and_typed_values():
    data = json.loads(run("table", HELLO, "File", "--format", "json").output)
    assert data["table"] == "File"
    assert [c["name"] for c in data["columns"]][:4] == ["File", "Component_", "FileName", "FileSize"]
    first = data["columns"][0]
    assert first["key"] is True and first["nullable"] is False and first["type"] == "string"
    assert data["columns"][3]["type"] == "i4"
    rows = {r["File"]: r for r in data["rows"]}
    assert rows["data.bin"]["FileSize"] == 16384
    assert rows["data.bin"]["Version"] is None


def test_table_binary_column_names_its_stream(corpus):
    data = json.loads(run("table", corpus("putty-0.68-installer.msi"), "Binary", "--format", "json").output)
    names = {r["Name"]: r["Data"] for r in data["rows"]}
    assert names["WixCA"] == "Binary.WixCA"


def test_table_formats_text_csv_idt():
    text = run("table", HELLO, "Media").output
    assert "hello.cab" in text and "DiskId" in text
    csv_lines = run("table", HELLO, "Media", "--format", "csv").output.splitlines()
    assert csv_lines[0].startswith("DiskId,LastSequence")
    idt_text = run("table", HELLO, "Media", "--format", "idt").output
    assert idt_text.splitlines()[2] == "Media\tDiskId"


def test_stream_extraction_matches_msiinfo(tmp_path):
    msiinfo = require_tool("msiinfo")
    out = tmp_path / "cab"
    assert run("stream", HELLO, "hello.cab", "-o", out).exit_code == 0
    ref = subprocess.run([msiinfo, "extract", str(HELLO), "hello.cab"], check=True, capture_output=True).stdout
    assert out.read_bytes() == ref and ref[:4] == b"MSCF"
    # \x05 streams may be named with the escape typed literally
    summary = tmp_path / "summary"
    assert run("stream", HELLO, "\\x05SummaryInformation", "-o", summary).exit_code == 0
    assert summary.read_bytes()[:2] == b"\xfe\xff"


def test_tables_of_a_transform_are_its_changed_tables(tmp_path, corpus):
    out = tmp_path / "t.mst"
    assert run("stream", corpus("WPF2_32.msp"), "#T1ToU1", "-o", out).exit_code == 0
    listing = json.loads(run("tables", out, "--format", "json").output)["tables"]
    assert {t["name"]: t["rows"] for t in listing} == {"Patch": 0, "MsiPatchHeaders": 0, "PatchPackage": 1,
                                                        "AdminExecuteSequence": 1, "Media": 1, "Property": 3}
    assert [t["action"] for t in listing][:2] == ["create", "create"]


def test_transform_substorage_written_as_standalone_mst(tmp_path, corpus):
    msiinfo = require_tool("msiinfo")
    out = tmp_path / "t.mst"
    assert run("stream", corpus("WPF2_32.msp"), ":#T1ToU1", "-o", out).exit_code == 0
    info = json.loads(run("info", out, "--format", "json").output)
    assert info["kind"] == "mst"
    assert info["summary"]["validation"] == ["language", "product", "platform", "update_version",
                                             "new_equal_base_version", "upgrade_code"]
    # an independent reader opens it and agrees on the summary
    text = subprocess.run([msiinfo, "suminfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert "{2BA00471-0328-3743-93BD-FA813353A783}3.1.21022" in text
    transform = json.loads(run("transform", out, "--format", "json").output)
    assert {t["table"] for t in transform["tables"]} >= {"Patch", "PatchPackage", "Media", "Property"}


def test_export_matches_msidump_streams(tmp_path, corpus):
    msidump = require_tool("msidump")
    pkg = corpus("putty-0.68-installer.msi")
    ours, ref = tmp_path / "ours", tmp_path / "ref"
    assert run("export", pkg, "-o", ours).exit_code == 0
    ref.mkdir()
    subprocess.run([msidump, "-t", "-s", "-d", str(ref), str(pkg)], check=True, capture_output=True, cwd=ref)
    # msidump keeps the \x05 of "\x05SummaryInformation" in file names; we drop control characters.
    # putty also carries a stream named \x05 + the *encoded* "SummaryInformation" (a WiX quirk):
    # both read as SummaryInformation, and we keep the second as SummaryInformation.2
    ref_streams = {p.name.lstrip("\x05"): p.read_bytes() for p in (ref / "_Streams").iterdir()}
    our_streams = {p.name: p.read_bytes() for p in (ours / "_Streams").iterdir()}
    assert set(ref_streams) <= set(our_streams)
    assert len(our_streams) == len(ref_streams) + 1
    assert not Counter(ref_streams.values()) - Counter(our_streams.values())
    for name, data in ref_streams.items():
        if name != "SummaryInformation":
            assert our_streams[name] == data
    assert {p.name for p in ours.glob("*.idt")} == {p.name for p in ref.glob("*.idt")}


def test_export_refuses_to_overwrite(tmp_path):
    assert run("export", HELLO, "-o", tmp_path).exit_code == 0
    result = CliRunner().invoke(cli, ["export", str(HELLO), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert CliRunner().invoke(cli, ["export", str(HELLO), "-o", str(tmp_path), "--force"]).exit_code == 0


# -- bad input: exit 2, one line on stderr naming the file and the problem -------------
def broken(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def hello_with(change) -> bytes:
    cfb = Cfb(HELLO.read_bytes())
    change(cfb)
    return cfb.bytes()


def loop_columns(cfb: Cfb) -> None:
    entry = cfb.entry(encode_stream_name("_Columns", True))
    cfb.set_minifat(entry[3], entry[3])


def out_of_range_columns(cfb: Cfb) -> None:
    entry = cfb.entry(encode_stream_name("_Columns", True))
    cfb.set_minifat(entry[3], 99999)


BAD_INPUTS = [
    ("empty", lambda: b"", ["info"], "not a compound file"),
    ("text", lambda: b"not an installer\n" * 100, ["info"], "not a compound file"),
    ("truncated", lambda: HELLO.read_bytes()[:6000], ["info"], "incomplete"),
    ("sector-loop", lambda: hello_with(loop_columns), ["info"], "loops"),
    ("sector-out-of-range", lambda: hello_with(out_of_range_columns), ["info"], "out of range"),
    ("directory-loop", lambda: hello_with(lambda c: c.set_fat(c.first_dir, c.first_dir)), ["info"], "loops"),
    ("no-string-pool", lambda: hello_with(lambda c: c.rename_entry(encode_stream_name("_StringPool", True),
                                                                   encode_stream_name("_StringPoox", True))),
     ["info"], "missing string pool"),
    ("no-tables", lambda: hello_with(lambda c: c.rename_entry(encode_stream_name("_Tables", True),
                                                              encode_stream_name("_Tablex", True))),
     ["info"], "missing _Tables"),
    ("table-wrong-length", lambda: hello_with(lambda c: c.set_entry_size(encode_stream_name("File", True), 59)),
     ["table", "@", "File"], "not a multiple of the row width"),
    ("string-data-short", lambda: hello_with(lambda c: c.set_entry_size(encode_stream_name("_StringData", True), 100)),
     ["info"], "_StringData is too short"),
]


@pytest.mark.parametrize("name,make,args,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_one_line_exit_2(tmp_path, name, make, args, message):
    path = broken(tmp_path, f"{name}.msi", make())
    argv = [str(path) if a == "@" else a for a in args]
    if "@" not in args:
        argv.append(str(path))
    result = CliRunner(mix_stderr=False).invoke(cli, argv) if _has_mix_stderr() else CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    err = result.stderr if hasattr(result, "stderr") else result.output
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert str(path) in lines[0] and message in lines[0]
    assert "Traceback" not in err


def _has_mix_stderr() -> bool:
    import inspect

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


@pytest.mark.parametrize("args,message", [
    (["table", "@", "NoSuchTable"], "no table named 'NoSuchTable'"),
    (["stream", "@", "nope", "-o", "-"], "no stream or substorage named 'nope'"),
    (["info", "@missing"], "No such file"),
])
def test_usage_errors_exit_2(tmp_path, args, message):
    argv = [str(HELLO) if a == "@" else (str(tmp_path / "missing.msi") if a == "@missing" else a) for a in args]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2
    assert message in result.output


def test_python_dash_m_and_console_script():
    proc = subprocess.run([os.sys.executable, "-m", "msitools", "info", str(HELLO), "--format", "json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)["kind"] == "msi"
    bad = subprocess.run([os.sys.executable, "-m", "msitools", "info", str(HELLO.parent / "src" / "readme.txt")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_the_process_ends_with_the_command_s_status_and_all_its_output(tmp_path):
    # main() leaves through os._exit: what was printed must be flushed first, the status kept
    hello = FIXTURES / "wixl" / "hello.msi"
    done = subprocess.run([sys.executable, "-m", "msitools", "tables", str(hello), "--format", "json"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)  # complete JSON through a pipe
    bad = subprocess.run([sys.executable, "-m", "msitools", "info", str(tmp_path / "missing.msi")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "missing.msi" in bad.stderr
    usage = subprocess.run([sys.executable, "-m", "msitools", "nosuchcommand"], capture_output=True, text=True)
    assert usage.returncode == 2 and "No such command" in usage.stderr
