"""Every report: -o FILE (atomic, parents created, no silent overwrite), formats inferred, terminal behaviour."""
from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES

HOTFIX = FIXTURES / "kb2586709" / "SCCM2007-SP2-2586709-X86-ENU.msi"
TABLE = FIXTURES / "kb2586709" / "kb2586709.txt"
TAMPERED = sorted((FIXTURES / "kb2586709" / "tampered").glob("*.msi"))
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _run(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msitools", *map(str, args)], capture_output=True, text=True,
                          env=env)


def _on_terminal(*args, columns: int = 120, no_color: bool = False) -> str:
    """Run msitools with its standard output on a pseudo-terminal; what the terminal received."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(COLUMNS=str(columns), LINES="50", TERM="xterm-256color")
    if no_color:
        env["NO_COLOR"] = "1"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "msitools", *map(str, args)], stdout=follower,
                            stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


# -- the terminal ------------------------------------------------------------------------------------
@pytest.mark.parametrize("hotfix", [HOTFIX, *TAMPERED], ids=lambda p: p.name)
def test_on_a_terminal_verify_fits_100_columns_in_colour_and_ends_with_the_verdict(hotfix):
    shown = _on_terminal("verify", hotfix, "--kb", TABLE, columns=120)
    lines = shown.rstrip("\n").split("\n")
    assert ESCAPE.search(shown), "colour on a terminal"
    plain = [ESCAPE.sub("", line) for line in lines]
    assert max(len(line) for line in plain) <= 100, max(plain, key=len)
    assert plain[0].startswith("Verdict: ") and plain[-1] == plain[0]


@pytest.mark.parametrize("hotfix", [HOTFIX, TAMPERED[0]], ids=lambda p: p.name)
def test_no_color_and_pipes_carry_no_escape_codes(hotfix):
    assert not ESCAPE.search(_on_terminal("verify", hotfix, "--kb", TABLE, no_color=True))
    piped = _run("verify", hotfix, "--kb", TABLE)
    assert "\x1b[" not in piped.stdout
    lines = piped.stdout.rstrip("\n").split("\n")
    assert max(len(line) for line in lines) <= 100 and lines[-1] == lines[0]


def test_a_narrow_terminal_gets_a_narrower_table():
    shown = ESCAPE.sub("", _on_terminal("verify", TAMPERED[0], "--kb", TABLE, columns=80))
    assert max(len(line) for line in shown.rstrip("\n").split("\n")) <= 80


def test_details_add_where_pairing_and_hashes():
    short = _run("verify", HOTFIX, "--kb", TABLE).stdout
    long = _run("verify", HOTFIX, "--kb", TABLE, "--details").stdout
    for block in ("Found in and pairing:", "Inputs:", "SHA-256 of delivered files:"):
        assert block not in short and block in long
    assert max(len(line) for line in long.splitlines()) <= 100


# -- -o and formats ------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix,marker", [(".html", "<!DOCTYPE html>"), (".md", "# PASS: "),
                                           (".xml", "<testsuite"), (".json", '"verdict": "pass"'),
                                           (".txt", "Verdict: PASS")])
def test_the_extension_chooses_the_format(tmp_path, suffix, marker):
    out = tmp_path / "deep" / "folder" / f"report{suffix}"  # parents are created
    proc = _run("verify", HOTFIX, "--kb", TABLE, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert marker in out.read_text()
    assert proc.stdout.startswith("PASS: ") and str(out) in proc.stdout


def test_a_format_that_contradicts_the_extension_is_an_error(tmp_path):
    out = tmp_path / "r.html"
    proc = _run("verify", HOTFIX, "--kb", TABLE, "--format", "json", "-o", out)
    assert proc.returncode == 2 and not out.exists()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--format json" in lines[0] and "html" in lines[0] and str(out) in lines[0]


def test_an_existing_report_is_kept_without_force(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("mine")
    proc = _run("verify", HOTFIX, "--kb", TABLE, "-o", out)
    assert proc.returncode == 2 and "already exists" in proc.stderr and out.read_text() == "mine"
    assert _run("verify", HOTFIX, "--kb", TABLE, "-o", out, "--force").returncode == 0
    assert json.loads(out.read_text())["verdict"] == "pass"
    assert not [p for p in tmp_path.iterdir() if p.name != "r.json"]  # no temporary file left


@pytest.mark.parametrize("command,suffix,marker", [
    (["review", HOTFIX], ".html", "<!DOCTYPE html>"),
    (["review", HOTFIX], ".md", "# Security review"),
    (["signature", HOTFIX], ".json", '"status"'),
    (["patch", FIXTURES / "patches" / "whole.msp"], ".json", '"patch_code"'),
    (["transform", FIXTURES / "patches" / "change.mst"], ".txt", "Transform change.mst"),
    (["files", HOTFIX], ".csv", "path,name,size"),
    (["info", HOTFIX], ".json", '"kind": "msi"'),
    (["tables", HOTFIX], ".csv", "name,rows,columns"),
    (["table", HOTFIX, "File"], ".idt", "File\t"),
    (["streams", HOTFIX], ".json", '"streams"'),
    (["kb", "parse", TABLE], ".csv", "name,"),
])
def test_every_report_takes_o(tmp_path, command, suffix, marker):
    out = tmp_path / f"report{suffix}"
    proc = _run(*command, "-o", out)
    assert proc.returncode in (0, 1), proc.stderr
    assert marker in out.read_text(), out.read_text()[:300]
    assert proc.stdout == "" or "written to" in proc.stdout


def test_a_command_refuses_an_extension_it_cannot_write(tmp_path):
    proc = _run("files", HOTFIX, "-o", tmp_path / "files.html")
    assert proc.returncode == 2 and "cannot write html" in proc.stderr


def test_extract_writes_its_report_with_report(tmp_path):
    proc = _run("extract", HOTFIX, "-o", tmp_path / "out", "--report", tmp_path / "extract.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "extract.json").read_text())["written"]
