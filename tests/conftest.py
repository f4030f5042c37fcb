"""Shared test helpers.

Every path is resolved from this file, never from the working directory.
Corpus packages live in ``../shared/corpus`` beside the project; tests that
need them skip with a clear reason when it is absent.  Tests that compare with
an independent tool (msidump, msiinfo, cabextract, osslsigncode ...) skip when
the tool is not installed (``.ci/run`` installs them).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
KB_DIR = SHARED / "kb"

CORPUS_PACKAGES = [
    "msi_with_external_cab.msi",
    "putty-0.68-installer.msi",
    "vcredist.msi",
    "WPF2_32.msp",
    "SQL2008_AS.msp",
]


def corpus_file(name: str) -> Path:
    """Path of a corpus file, or skip the test when ../shared/corpus is not there."""
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not found in {CORPUS} (../shared is not beside the project)")
    return path


def require_tool(name: str) -> str:
    """Absolute path of an external tool, or skip the test when it is not installed."""
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (apt-get install the package that provides it)")
    return found


@pytest.fixture
def corpus():
    return corpus_file


def load_script(name: str):
    """Import scripts/<name>.py as a module (the fixture build scripts)."""
    import importlib.util
    import sys

    module_name = f"_scripts_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module
