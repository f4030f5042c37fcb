"""Build the seed corpus of every fuzz target: ``python -m fuzz.seeds [OUT]`` (default fuzz-out/seeds).

Seeds come from the fixtures, ``../shared/corpus`` (when present) and small
synthetic inputs made by the project's writers: whole files for the
container-level targets, stream containers (:mod:`fuzz.streams`) for the
database/transform/verify targets, the summary streams, cabinets (embedded
ones extracted), framed CFDATA blocks for the decoders, PE images, published
tables and delta headers.  Each seed is written as ``<target>/<label>``;
inputs longer than a target's ``max_len`` are left out.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz import streams  # noqa: E402
from fuzz.targets import FIXTURES, ROOT, TARGETS, pack_frames  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
SHARED_KB = ROOT.parent / "shared" / "kb"
CFB_MAGIC = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
MAX_FRAMES = 6


def _files(*patterns_dirs) -> "list[Path]":
    out = []
    for directory, pattern in patterns_dirs:
        if directory.is_dir():
            out += sorted(p for p in directory.rglob(pattern) if p.is_file())
    return out


def compound_files() -> "list[Path]":
    return [p for p in _files((FIXTURES, "*"), (CORPUS, "*")) if p.read_bytes()[:8] == CFB_MAGIC]


def cabinet_blobs() -> "list[tuple[str, bytes]]":
    """Every cabinet: files on disk and cabinets embedded as streams (``MSCF`` at offset 0)."""
    from msitools.container.cfb import CompoundFile

    out = [(p.name, p.read_bytes()) for p in _files((FIXTURES, "*.cab"), (CORPUS, "*.cab"))]
    for path in compound_files():
        try:
            with CompoundFile(path) as cfb:
                for entry in cfb.walk():
                    if entry.is_stream and entry.size > 36:
                        with cfb.open_stream(entry) as reader:
                            if reader.read(4) == b"MSCF":
                                out.append((f"{path.stem}-{len(out)}", cfb.read_stream(entry)))
        except Exception:  # hostile fixtures: not every one opens
            continue
    return out


def synthetic_cabinets() -> "list[tuple[str, bytes]]":
    from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet

    text = b"".join(b"line %d of a small text file, compressible\r\n" % i for i in range(1500))
    binary = hashlib.sha512(b"seed").digest() * 300
    files = [FileSpec("a.txt", text), FileSpec("dir\\b.bin", binary), FileSpec("empty", b"")]
    out = []
    for comp, bits, blocks in (("none", 16, None), ("mszip", 16, None), ("quantum", 10, None),
                               ("quantum", 13, None), ("quantum", 16, None), ("quantum", 21, None),
                               ("lzx", 15, (("verbatim", 32768),)),
                               ("lzx", 16, (("aligned", 20000), ("uncompressed", 7001), ("verbatim", 5000))),
                               ("lzx", 21, (("uncompressed", 32768),))):
        options = {"lzx_blocks": blocks} if blocks else {}
        spec = FolderSpec(files, comp, window_bits=bits, e8_filesize=len(text) if comp == "lzx" else 0,
                          **options)
        out.append((f"synthetic-{comp}-{bits}.cab", build_cabinet([spec])))
    two = [FolderSpec(files[:1], "mszip", reserve=b"fres"), FolderSpec(files[1:], "none", reserve=b"FRES")]
    out.append(("synthetic-two-folders.cab", build_cabinet(two, header_reserve=b"R" * 8, folder_reserve_size=4,
                                                           data_reserve=b"dd")))
    return out


def decoder_seeds(cabs) -> "dict[str, list[tuple[str, bytes]]]":
    """Framed CFDATA blocks of every folder, by decoder."""
    from msitools.cab import Cabinet
    from msitools.cab.header import CompressionType

    out: dict[str, list] = {"lzx": [], "mszip": [], "quantum": []}
    for name, blob in cabs:
        try:
            cab = Cabinet.open(io.BytesIO(blob), name)
        except Exception:
            continue
        for index, folder in enumerate(cab.folders):
            kind = folder.compression
            if kind == CompressionType.LZX:
                target, param = "lzx", folder.window_bits - 15
            elif kind == CompressionType.MSZIP:
                target, param = "mszip", 0
            elif kind == CompressionType.QUANTUM:
                target, param = "quantum", folder.window_bits - 10
            else:
                continue
            blocks = []
            try:
                for block in cab.data_blocks(index):
                    if len(blocks) == MAX_FRAMES or block.cb_uncomp == 0:
                        break
                    blocks.append((block.data, block.cb_uncomp))
            except Exception:
                pass
            if blocks:
                out[target].append((f"{name}-f{index}", pack_frames(param, blocks)))
                out[target].append((f"{name}-f{index}-one", pack_frames(param, blocks[:1])))
    return out


def pe_seeds() -> "list[tuple[str, bytes]]":
    from msitools.testing.writer.pe import build_pe

    stamp = _dt.datetime(2011, 9, 1, 12, 0, tzinfo=_dt.timezone.utc)
    out = []
    for machine in ("x86", "x64"):
        for dll in (False, True):
            image = build_pe(machine, "4.0.6487.2187", None, 4096, stamp, dll,
                             {"CompanyName": "Fuzz Corp", "Comments": "seed"})
            out.append((f"{machine}-{'dll' if dll else 'exe'}", image))
    return out


def delta_seeds() -> "list[tuple[str, bytes]]":
    from msitools.testing.writer.delta import PA19Delta, PA19Source, PA30Delta

    old, new = b"old file contents " * 20, b"new file contents!" * 21
    out = [
        ("pa19", PA19Delta.between(old, new).to_bytes()),
        ("pa19-ts-rebase", PA19Delta.between(old, new, timestamp=1300000000, rebase=0x400000,
                                             extended_options=7).to_bytes()),
        ("pa19-ranges", PA19Delta(len(new), 0x1234, (PA19Source.from_data(old, ignore_ranges=[(4, 8)],
                                                                           retain_ranges=[(20, 30, 5)]),
                                                     PA19Source.from_data(new))).to_bytes()),
        ("pa30", PA30Delta.for_target(new, 129000000000000000).to_bytes()),
        ("pa30-pre", PA30Delta.for_target(new, 1, preprocess=b"xyz", flags=3).to_bytes()),
    ]
    return out


def kb_seeds() -> "list[tuple[str, bytes]]":
    from msitools.kb import FORMATS

    out = []
    for path in _files((FIXTURES / "kb", "*"), (FIXTURES / "kb2586709", "*.txt"), (FIXTURES / "kb2586709", "*.csv"),
                       (FIXTURES / "kb2586709", "*.html"), (SHARED_KB, "*"), (FIXTURES / "kb" / "real", "*.md"),
                       (FIXTURES / "kb" / "real", "*.txt")):
        text = path.read_bytes()
        suffix = path.suffix.lstrip(".")
        own = {"html": "html", "csv": "csv", "md": "markdown"}.get(suffix, "squashed" if "squashed" in path.name
                                                                  else "fixed" if "oldkb" in path.name else "text")
        for fmt in ("auto", own):
            out.append((f"{path.stem}-{fmt}", bytes([FORMATS.index(fmt)]) + text))
    return out


def build(out_dir: Path) -> "dict[str, int]":
    """Write every target's seeds under *out_dir*; returns the count per target."""
    from msitools.container.cfb import CompoundFile

    seeds: dict[str, list[tuple[str, bytes]]] = {name: [] for name in TARGETS}
    cfbs = compound_files()
    for path in cfbs:
        data = path.read_bytes()
        label = f"{path.parent.name}-{path.name}"
        seeds["cfb"].append((label, data))
        seeds["database"].append((label, data))
        try:
            kind, items = streams.streams_of(path, max_stream=2048)
            seeds["database"].append((label + ".streams", streams.pack(kind, items)))
            if kind == 2:
                seeds["transform"].append((label + ".streams", streams.pack(2, items)))
            if kind in (0, 1):
                full_kind, full = streams.streams_of(path)
                seeds["verify"].append((label + ".streams", streams.pack(full_kind, full)))
            with CompoundFile(path) as cfb:
                for entry in cfb.walk():
                    if entry.is_stream and entry.name == "\x05SummaryInformation":
                        seeds["summary"].append((f"{label}-{entry.path.replace('/', '_')}", cfb.read_stream(entry)))
                    if entry.is_storage and kind == 1:
                        sub = streams.storage_streams(cfb, entry)
                        seeds["transform"].append((f"{label}-{entry.name}", streams.pack(2, sub)))
        except Exception:  # hostile fixtures
            pass
        if path.parent.name in ("kb2586709", "tampered", "patches", "wixl"):
            seeds["verify"].append((label, data))
    cabs = cabinet_blobs() + synthetic_cabinets()
    for name, blob in cabs:
        seeds["cab_python"].append((name, blob))
        seeds["cab_libarchive"].append((name, blob))
    for target, items in decoder_seeds(cabs).items():
        seeds[target] += items
    seeds["pe"] += pe_seeds()
    seeds["container"] = [(p.name, p.read_bytes()) for p in sorted(FIXTURES.rglob("*.exe"))]
    seeds["delta"] += delta_seeds()
    seeds["kb"] += kb_seeds()
    seeds["summary"].append(("empty", b""))

    counts = {}
    for target, items in seeds.items():
        directory = out_dir / target
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()
        kept = 0
        for label, blob in items:
            if len(blob) > TARGETS[target].max_len:
                continue
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:80]
            (directory / safe).write_bytes(blob)
            kept += 1
        counts[target] = kept
    return counts


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz-out" / "seeds"
    for target, count in build(out).items():
        print(f"{target:15} {count} seeds")


if __name__ == "__main__":
    main()
