"""Every input in tests/hostile/malformed/ (fuzzing findings, see its README) through the CLI, sandboxed.

Each file is named ``<fuzz target>-<what>.<ext>``; the target picks the
command that reaches the code the finding came from (a file may name another
command in ``OVERRIDES``).  The command runs in a subprocess with its working
directory in a temporary folder, at most 256 MB of address space and 2 s of
CPU time (RLIMIT_AS / RLIMIT_CPU; a wall-clock timeout only backs up a
process that sleeps).  It must fail cleanly: exit 2 with exactly one line on
stderr, a library error (``msitools: error: ...``, not an "unexpected"
foreign exception) -- or, for ``verify``, exit 1 with a failing report.
"""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, TESTS

MALFORMED = TESTS / "hostile" / "malformed"
MEMORY_LIMIT = 256 * 1024 * 1024
CPU_SECONDS = 2
WALL_SECONDS = 30
KB_TABLE = FIXTURES / "kb2586709" / "kb2586709.txt"
BASE = FIXTURES / "patches" / "base.msi"

EXTRACT = ["extract", "{file}", "-o", "{tmp}/out"]
VERIFY = ["verify", "{file}", "--kb", str(KB_TABLE)]
COMMANDS = {
    "cfb": ["export", "{file}", "-o", "{tmp}/out"],
    "database": ["export", "{file}", "-o", "{tmp}/out"],
    "summary": ["info", "{file}"],
    "transform": ["transform", "{file}", "--base", str(BASE)],
    "cab_python": EXTRACT + ["--backend", "python"],
    "cab_libarchive": EXTRACT + ["--backend", "libarchive"],
    "lzx": EXTRACT + ["--backend", "python"],
    "mszip": EXTRACT + ["--backend", "python"],
    "quantum": EXTRACT + ["--backend", "python"],
    "pe": VERIFY,
    "kb": ["kb", "parse", "{file}"],
    "verify": VERIFY,
    "delta": ["patch", "{file}"],
}
OVERRIDES = {
    "database-defaultdir-integer.msi": ["files", "{file}"],
    "database-metadata-no-property.msp": ["patch", "{file}"],
    "database-patchheaders-no-streamref.msp": ["patch", "{file}"],
}
FILES = sorted(p for p in MALFORMED.iterdir() if p.is_file() and p.name != "README.md") \
    if MALFORMED.is_dir() else []


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def command_for(path) -> "list[str]":
    if path.name in OVERRIDES:
        return OVERRIDES[path.name]
    target = path.name.split("-", 1)[0]
    assert target in COMMANDS, f"{path.name}: name does not start with a fuzz target ({', '.join(COMMANDS)})"
    return COMMANDS[target]


def test_there_are_findings():
    assert FILES, f"no files in {MALFORMED}"


def test_readme_lists_every_file():
    readme = (MALFORMED / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([^`/]+\.[a-z]+)`", readme))
    missing = [p.name for p in FILES if p.name not in listed]
    assert not missing, f"tests/hostile/malformed/README.md does not describe {missing}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_fails_cleanly(path, tmp_path):
    args = [a.format(file=path, tmp=tmp_path) for a in command_for(path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    proc = subprocess.run([sys.executable, "-m", "msitools", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=WALL_SECONDS, preexec_fn=_limits)
    err_lines = proc.stderr.splitlines()
    where = f"msitools {' '.join(args[:1])} {path.name}: exit {proc.returncode}, stderr {proc.stderr[-2000:]!r}"
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode} (CPU or memory limit): {where}"
    assert "Traceback" not in proc.stderr, where
    if args[0] == "verify" and proc.returncode == 1:
        assert not err_lines, where
        assert "FAIL" in proc.stdout.upper(), where
        return
    assert proc.returncode == 2, where
    assert len(err_lines) == 1, where
    assert err_lines[0].startswith("msitools: error: "), where
    assert "unexpected" not in err_lines[0], where
    # nothing was written outside the temporary folder's own output
    assert {p.name for p in tmp_path.iterdir()} <= {"out"}, where
