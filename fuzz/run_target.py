#!/usr/bin/env python3
"""Run one fuzz target under atheris (libFuzzer): ``python fuzz/run_target.py NAME [libFuzzer args]``.

Also replays files: ``python fuzz/run_target.py NAME file...`` runs the target
once per file (libFuzzer's own behaviour for file arguments), which is how a
crash is reproduced and minimised (``-minimize_crash=1 -runs=N``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris  # noqa: E402

import importlib  # noqa: E402
import pkgutil  # noqa: E402

# every reading module, imported now so that all of them are instrumented (some
# are imported lazily by the library); the writers and the CLI are not measured
with atheris.instrument_imports(include=["msitools", "olefile", "pefile"],
                                exclude=["msitools.testing.writer", "msitools.cli", "msitools.testing.writer.cab",
                                         "msitools.testing.writer.lzx_encoder", "msitools.testing.writer.quantum_encoder"]):
    import msitools  # noqa: F401
    import olefile  # noqa: F401
    import pefile  # noqa: F401

    for _info in pkgutil.walk_packages(msitools.__path__, "msitools."):
        if not any(_info.name.startswith(p) for p in ("msitools.testing.writer", "msitools.cli", "msitools.__main__")):
            importlib.import_module(_info.name)

from fuzz.targets import TARGETS, setup  # noqa: E402


ENV_TARGET = "MSITOOLS_FUZZ_TARGET"


def main() -> None:
    # libFuzzer re-runs argv[0] with its own flags (crash minimisation, fork mode):
    # the target name then comes from the environment
    if len(sys.argv) >= 2 and sys.argv[1] in TARGETS:
        name, rest = sys.argv[1], sys.argv[2:]
    elif os.environ.get(ENV_TARGET) in TARGETS:
        name, rest = os.environ[ENV_TARGET], sys.argv[1:]
    else:
        sys.exit(f"usage: run_target.py {{{','.join(TARGETS)}}} [libFuzzer options] [corpus dirs or files]")
    os.environ[ENV_TARGET] = name
    target = TARGETS[name]
    setup()
    argv = [sys.argv[0]] + rest
    if not any(a.startswith("-max_len=") for a in argv):
        argv.insert(1, f"-max_len={target.max_len}")
    atheris.Setup(argv, target.function)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
