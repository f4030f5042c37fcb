"""The default path never prefers a decoder that accepts bad data (libarchive's LZX history check)."""
from __future__ import annotations

import io
import subprocess

import pytest

from msitools.cab import libarchive_backend
from msitools.cab.reader import Cabinet
from msitools.errors import DecompressionError
from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet
from tests.conftest import CORPUS, require_tool

INVALID_HISTORY = CORPUS / "real" / "libarchive" / "libarchive" / "test_read_format_cab_lzx_invalid_history.cab"


def _probe(reach_back: bool, text: bytes) -> bytes:
    return build_cabinet([FolderSpec([FileSpec("probe.txt", text)], compression="lzx", window_bits=15,
                                     lzx_reach_back=reach_back)])


def _read(raw: bytes, backend: str) -> dict[str, bytes]:
    cab = Cabinet.open(io.BytesIO(raw), "probe.cab")
    return {m.name: b"".join(chunks) for m, chunks in cab.iter_members(backend=backend)}


def _invalid_history() -> bytes:
    if not INVALID_HISTORY.exists():
        pytest.skip(f"{INVALID_HISTORY.name} not found in {INVALID_HISTORY.parent} (../shared is not beside the project)")
    return INVALID_HISTORY.read_bytes()


def test_probes_are_what_the_fixture_writer_builds():
    assert _probe(True, b"abc") == libarchive_backend.REACH_BACK_PROBE
    assert _probe(False, libarchive_backend.CONTROL_TEXT) == libarchive_backend.CONTROL_PROBE


def test_cabextract_rejects_the_probe_and_reads_the_control(tmp_path):
    tool = require_tool("cabextract")
    (tmp_path / "bad.cab").write_bytes(libarchive_backend.REACH_BACK_PROBE)
    (tmp_path / "good.cab").write_bytes(libarchive_backend.CONTROL_PROBE)
    bad = subprocess.run([tool, "-t", str(tmp_path / "bad.cab")], capture_output=True, text=True)
    assert bad.returncode != 0 and "failed" in bad.stdout
    good = subprocess.run([tool, "-p", str(tmp_path / "good.cab")], capture_output=True)
    assert good.returncode == 0 and good.stdout == libarchive_backend.CONTROL_TEXT


@pytest.mark.parametrize("backend", ["python", "auto"])
def test_default_and_python_paths_reject_a_match_before_the_data(backend):
    with pytest.raises(DecompressionError, match="reaches before the start"):
        _read(libarchive_backend.REACH_BACK_PROBE, backend)


@pytest.mark.parametrize("backend", ["python", "auto"])
def test_libarchive_invalid_history_cabinet_is_rejected_by_default(backend):
    with pytest.raises(DecompressionError, match="reaches before the start"):
        _read(_invalid_history(), backend)


def test_the_probe_tells_the_truth_about_the_loaded_libarchive():
    """lzx_trusted() is False exactly when libarchive hands out data for the invalid cabinets."""
    if not libarchive_backend.available():
        pytest.skip("libarchive-c is not installed")
    trusted, why = libarchive_backend.lzx_trusted()
    for raw in (libarchive_backend.REACH_BACK_PROBE, _invalid_history()):
        try:
            _read(raw, "libarchive")
        except Exception:
            accepted = False
        else:
            accepted = True
        assert accepted is not trusted, why
    assert _read(libarchive_backend.CONTROL_PROBE, "libarchive") == {"probe.txt": libarchive_backend.CONTROL_TEXT}


def _lzx_cabinet() -> bytes:
    text = b"".join(b"line %d of a text that repeats itself\n" % (i % 50) for i in range(3000))
    return build_cabinet([FolderSpec([FileSpec("a.txt", text), FileSpec("b.txt", text[::-1])], compression="lzx",
                                     window_bits=16)])


@pytest.mark.parametrize("trusted", [True, False])
def test_auto_uses_libarchive_for_lzx_only_when_trusted(monkeypatch, trusted):
    if not libarchive_backend.available():
        pytest.skip("libarchive-c is not installed")
    used = []
    real = libarchive_backend.iter_members
    monkeypatch.setattr(libarchive_backend, "lzx_trusted", lambda: (trusted, "test"))
    monkeypatch.setattr(libarchive_backend, "iter_members", lambda *a, **k: used.append(1) or real(*a, **k))
    raw = _lzx_cabinet()
    assert _read(raw, "auto") == _read(raw, "python")
    assert bool(used) is trusted


def test_probe_result_is_cached_and_explains_itself():
    first = libarchive_backend.lzx_trusted()
    assert libarchive_backend.lzx_trusted() is first
    assert isinstance(first[1], str) and first[1]
