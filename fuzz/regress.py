"""Turn a fuzzer input into a file the CLI can open (for ``tests/hostile/malformed/``).

    python -m fuzz.regress TARGET INPUT OUTPUT [--carrier FILE]

* ``cfb``, ``cab_*``: the input is already a file;
* ``database``, ``transform``, ``verify``: a stream container is built into
  its compound file (raw compound files are copied);
* ``summary``: the stream replaces ``\\x05SummaryInformation`` of a carrier
  package (default fixtures/patches/base.msi);
* ``lzx``, ``mszip``, ``quantum``: the framed blocks become the CFDATA blocks
  of a one-folder, one-file cabinet (checksums 0 = not stored);
* ``kb``, ``delta``: the bytes after the format byte / the bytes as they are
  (a delta is wrapped by hand when needed).
"""
from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz import streams  # noqa: E402
from fuzz.targets import FIXTURES, MAX_FRAMES, MAX_QUANTUM_FRAMES, frames  # noqa: E402

SUMMARY = "\x05SummaryInformation"
TYPE_COMPRESS = {"mszip": lambda p: 1, "quantum": lambda p: 2 | (4 << 4) | ((10 + p % 12) << 8),
                 "lzx": lambda p: 3 | ((15 + p % 7) << 8)}


def cabinet_from_blocks(type_compress: int, blocks: "list[tuple[bytes, int]]", name: bytes = b"member.bin") -> bytes:
    """A one-folder cabinet holding *blocks* (``(data, cbUncomp)``) as one file."""
    header_size, folder_size = 36, 8
    file_entry = struct.pack("<IIHHHH", sum(size for _, size in blocks), 0, 0, 0x3E21, 0x5800, 0x20) + name + b"\0"
    data_start = header_size + folder_size + len(file_entry)
    body = b"".join(struct.pack("<IHH", 0, len(data), size) + data for data, size in blocks)
    total = data_start + len(body)
    header = struct.pack("<4sIIIIIBBHHHHH", b"MSCF", 0, total, 0, header_size + folder_size, 0, 3, 1, 1, 1, 0,
                         0x1234, 0)
    folder = struct.pack("<IHH", data_start, len(blocks), type_compress)
    return header + folder + file_entry + body


def replace_stream(carrier: Path, name: str, data: bytes) -> bytes:
    kind, items = streams.streams_of(carrier)
    items = [(path, data if path == name else content) for path, content in items]
    built = streams.build(streams.pack(kind, items))
    if built is None:
        raise SystemExit(f"cannot rebuild {carrier}")
    return built


def wrap(target: str, data: bytes, carrier: "Path | None" = None) -> bytes:
    if target in ("database", "transform", "verify"):
        if streams.is_container(data):
            built = streams.build(data)
            if built is None:
                raise SystemExit("the stream container does not build into a compound file")
            return built
        return data
    if target == "summary":
        return replace_stream(carrier or FIXTURES / "patches" / "base.msi", SUMMARY, data)
    if target in TYPE_COMPRESS:
        param, blocks = frames(data, MAX_QUANTUM_FRAMES if target == "quantum" else MAX_FRAMES)
        return cabinet_from_blocks(TYPE_COMPRESS[target](param), blocks)
    if target == "kb":
        return data[1:]
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--carrier", type=Path)
    args = parser.parse_args()
    args.output.write_bytes(wrap(args.target, args.input.read_bytes(), args.carrier))


if __name__ == "__main__":
    main()
