"""Reader API: selection, streaming order and memory, sets with missing parts, backends."""
from __future__ import annotations

import gc
import io
import os
import random
import tracemalloc

import pytest

from conftest import corpus_file
from msitools.cab import Cabinet, CabinetSet, libarchive_backend
from msitools.testing.writer.cab import (
    FileSpec,
    FolderSpec,
    build_cabinet,
    build_cabinet_set,
    write_cabinet_set,
)
from msitools.errors import CabinetError, UsageError

RNG = random.Random(3)
TEXT = b"".join(RNG.choice([b"alpha ", b"beta ", b"gamma\n", b"delta "]) for _ in range(30000))
FILES = [
    FileSpec("a.txt", TEXT[:40000]),
    FileSpec("b.bin", RNG.randbytes(50000)),
    FileSpec("c.txt", TEXT[40000:41000]),
    FileSpec("d.txt", TEXT[41000:]),
]
DATA = {f.name: f.data for f in FILES}
CAB = build_cabinet([FolderSpec(FILES[:2], "mszip"), FolderSpec(FILES[2:], "none")])


def open_cab(data: bytes = CAB, name: str = "r.cab") -> Cabinet:
    return Cabinet.open(io.BytesIO(data), name)


@pytest.mark.parametrize("backend", ["python", "auto", "libarchive"])
def test_selection_by_names_and_predicate(backend):
    if backend == "libarchive" and not libarchive_backend.available():
        pytest.skip("libarchive-c is not installed")
    cab = open_cab()
    got = {m.name: b"".join(c) for m, c in cab.iter_members({"b.bin", "d.txt"}, backend=backend)}
    assert got == {"b.bin": DATA["b.bin"], "d.txt": DATA["d.txt"]}
    got = [m.name for m, _ in cab.iter_members(lambda m: m.size < 2000, backend=backend)]
    assert got == ["c.txt"]


def test_members_can_be_skipped_without_reading():
    cab = open_cab()
    seen = {}
    for member, chunks in cab.iter_members(backend="python"):
        if member.name in ("a.txt", "c.txt"):
            continue  # never touch the chunks
        seen[member.name] = b"".join(chunks)
    assert seen == {"b.bin": DATA["b.bin"], "d.txt": DATA["d.txt"]}


@pytest.mark.parametrize("backend", ["python", "auto"])
def test_chunks_used_after_moving_on_is_a_usage_error(backend):
    iterator = open_cab().iter_members(backend=backend)
    next(iterator)  # a.txt, left unread
    member, chunks = next(iterator)
    assert member.name == "b.bin"  # 50000 bytes across block boundaries: several chunks
    next(chunks)
    next(iterator)  # move on to c.txt
    with pytest.raises(UsageError, match="used after the iteration moved on"):
        list(chunks)


def test_read_member_and_list_members():
    cab = open_cab()
    assert cab.read_member("c.txt") == DATA["c.txt"]
    with pytest.raises(UsageError, match="no member named 'nope'"):
        cab.read_member("nope")
    members = cab.list_members()
    assert [m.name for m in members] == ["a.txt", "b.bin", "c.txt", "d.txt"]
    assert [(m.folder, m.offset) for m in members] == [(0, 0), (0, 40000), (1, 0), (1, 1000)]
    assert [m.compression for m in members] == ["MSZIP", "MSZIP", "none", "none"]
    assert cab.as_set().folders[0].describe() == "MSZIP"


def test_unknown_backend():
    with pytest.raises(UsageError, match="unknown cabinet backend"):
        open_cab().iter_members(backend="7z")


def test_auto_without_libarchive_uses_python(monkeypatch):
    monkeypatch.setattr(libarchive_backend, "available", lambda: False)
    assert {m.name: b"".join(c) for m, c in open_cab().iter_members()} == DATA
    with pytest.raises(CabinetError, match="libarchive-c is not installed"):
        open_cab().iter_members(backend="libarchive")


def test_libarchive_refuses_what_it_cannot_read_exactly():
    reserve = build_cabinet([FolderSpec(FILES[:1], "mszip")], data_reserve=b"\x01\x02")
    assert "data reserve" in libarchive_backend.unsuitable(open_cab(reserve).as_set())
    with pytest.raises(CabinetError, match="libarchive backend cannot read this cabinet: it has a data reserve"):
        open_cab(reserve).iter_members(backend="libarchive")
    assert open_cab(reserve).read_member("a.txt", backend="auto") == DATA["a.txt"]
    quantum = build_cabinet([FolderSpec([FileSpec("q", b"quantum" * 10)], "quantum", window_bits=15)])
    assert "Quantum" in libarchive_backend.unsuitable(open_cab(quantum).as_set())


def test_libarchive_itself_sums_the_data_reserve_into_the_checksum():
    """Why cabinets with a data reserve go to the Python path (documents libarchive's behaviour)."""
    if not libarchive_backend.available():
        pytest.skip("libarchive-c is not installed")
    import libarchive

    data = build_cabinet([FolderSpec(FILES[:1], "mszip")], data_reserve=b"\x01\x02\x03\x04")
    with pytest.raises(libarchive.ArchiveError, match="Checksum error"):
        with libarchive.memory_reader(data, format_name="cab") as archive:
            for entry in archive:
                for _ in entry.get_blocks():
                    pass


SET_FILES = [FileSpec("first.txt", TEXT[:20000]), FileSpec("spanning.bin", RNG.randbytes(90000)),
             FileSpec("last.txt", TEXT[20000:30000])]


def _set(compression: str = "mszip"):
    cabs = build_cabinet_set([FolderSpec(SET_FILES, compression)], max_data_per_cabinet=40000,
                             names=lambda i: f"s{i + 1}.cab")
    assert len(cabs) == 3
    return [Cabinet.open(io.BytesIO(data), name) for name, data in cabs]


def test_set_with_missing_next_cabinet():
    first, second, *_ = _set()
    lone = CabinetSet([first])
    result = {}
    for member, chunks in lone.iter_members():
        try:
            result[member.name] = b"".join(chunks)
        except CabinetError as exc:
            result[member.name] = exc
    assert result["first.txt"] == SET_FILES[0].data
    assert isinstance(result["spanning.bin"], CabinetError)
    assert "continues in next cabinet 's2.cab', which is not part of this set" in str(result["spanning.bin"])


def test_lone_continuation_cabinet():
    _first, second, *_ = _set()
    members = {m.name: m for m in second.list_members()}
    assert members["spanning.bin"].continued_from_prev
    with pytest.raises(CabinetError, match="previous cabinet 's1.cab', which is not part of this set"):
        second.read_member("spanning.bin")


def test_resolver_that_cannot_find_the_next_cabinet():
    first, *_ = _set()
    chained = CabinetSet(first, resolver=lambda name: None)
    assert chained.anomalies == ["next cabinet 's2.cab' (after 's1.cab') was not found"]
    assert chained.read_member("first.txt") == SET_FILES[0].data


def test_resolver_exceptions_become_cabinet_errors():
    first, *_ = _set()

    def broken(name):
        raise KeyError(name)

    with pytest.raises(CabinetError, match="resolver failed for next cabinet 's2.cab'"):
        CabinetSet(first, resolver=broken)


def test_set_given_in_the_wrong_order_fails_cleanly():
    first, second, third = _set()
    wrong = CabinetSet([first, third, second])
    outcomes = []
    for member, chunks in wrong.iter_members():
        try:
            outcomes.append(b"".join(chunks) == {f.name: f.data for f in SET_FILES}[member.name])
        except CabinetError:
            outcomes.append("error")
    assert "error" in outcomes


def test_folder_stream_yields_blocks():
    cabset = open_cab().as_set()
    blocks = list(cabset.folder_stream(0))
    assert [len(b) for b in blocks] == [32768, 32768, 90000 - 65536]
    assert b"".join(blocks) == DATA["a.txt"] + DATA["b.bin"]


def _peak_while_draining(cab: Cabinet, backend: str) -> "tuple[int, int]":
    gc.collect()
    tracemalloc.start()
    total = 0
    try:
        for _member, chunks in cab.iter_members(backend=backend):
            for chunk in chunks:
                total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return total, peak


@pytest.mark.parametrize("backend", ["python", "auto"])
def test_memory_does_not_grow_with_payload(tmp_path, backend):
    """24 MiB of members from a file on disk: the peak stays far below the payload."""
    big = [FileSpec(f"part{i}.txt", TEXT * 2) for i in range(0, 60)]  # 60 x ~400 KiB
    paths = write_cabinet_set(tmp_path, [FolderSpec(big[:30], "mszip", level=1), FolderSpec(big[30:], "none")],
                              max_data_per_cabinet=None, names=["big.cab"])
    del big
    with Cabinet.from_path(paths[0]) as cab:
        total, peak = _peak_while_draining(cab, backend)
    assert total == 60 * len(TEXT) * 2 > 20_000_000
    assert peak < 2 << 20, peak


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_lzx_memory_is_bounded_by_the_window():
    """7 MB out of the MFC merge-module cabinet (LZX:21, 2 MiB window): resident memory grows
    by the window and tables (about 4 MB), not by the output (tracemalloc is too slow here)."""
    import olefile

    from msitools.container.streamname import encode_stream_name

    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc to read the resident set size")
    with olefile.OleFileIO(str(corpus_file("vcredist.msi"))) as ole:
        data = ole.openstream(encode_stream_name("_14248_Microsoft_VC80_MFC_x86.msm", False)).read()
    cab = Cabinet.open(io.BytesIO(data), "mfc")
    gc.collect()
    start = peak = _rss()
    total = 0
    for _member, chunks in cab.iter_members(backend="python"):
        for chunk in chunks:
            total += len(chunk)
            peak = max(peak, _rss())
    assert total > 6_900_000
    assert peak - start < 5_500_000, peak - start


def test_resolver_loop_is_detected():
    cabs = build_cabinet_set([FolderSpec(SET_FILES, "mszip")], max_data_per_cabinet=40000,
                             names=lambda i: f"s{i + 1}.cab")
    first_bytes = cabs[0][1]
    first = Cabinet.open(io.BytesIO(first_bytes), "/somewhere/s1.cab")
    with pytest.raises(CabinetError, match="loops back to 's2.cab'"):
        CabinetSet(first, resolver=lambda name: io.BytesIO(first_bytes))  # every "next" is s1 again


def test_members_in_cffile_order_even_with_duplicate_cabinet_names():
    cabs = [Cabinet.open(io.BytesIO(data), "same-name") for _, data in build_cabinet_set(
        [FolderSpec(SET_FILES, "mszip")], max_data_per_cabinet=40000)]
    assert [m.name for m in CabinetSet(cabs).list_members()] == [f.name for f in SET_FILES]


def test_invalid_utf8_name_is_read_without_printing(capfd):
    data = bytearray(build_cabinet([FolderSpec([FileSpec("ok-\u00e9.txt", b"payload")], "mszip")]))
    cab = open_cab(bytes(data))
    name_at = cab.header.coff_files + 16
    data[name_at + 3] = 0xFF  # first byte of the two-byte UTF-8 "é": now invalid UTF-8
    cab = open_cab(bytes(data))
    assert cab.files[0].name == "ok-\ufffd\ufffd.txt"
    assert "not valid UTF-8" in libarchive_backend.unsuitable(cab.as_set())
    assert [b"".join(c) for _, c in cab.iter_members()] == [b"payload"]
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
