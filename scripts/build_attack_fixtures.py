#!/usr/bin/env python3
"""Build fixtures/attacks/: hostile packages and cabinets for the extraction-safety tests.

Each file is deterministic (``tests/test_attacks.py`` rebuilds them and checks
the bytes).  What each one attacks is listed in ``ATTACKS`` and written to
``fixtures/attacks/README.md``.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from msitools.testing.writer.cab import FileSpec, FolderSpec, build_cabinet  # noqa: E402
from msitools.container.streamname import encode_stream_name  # noqa: E402
from msitools.container.cfb_writer import CompoundFileWriter  # noqa: E402
from msitools.testing.writer.package import STANDARD_DIRECTORIES, PayloadFile, build_package  # noqa: E402
from msitools.testing.writer.stringpool import StringPoolWriter  # noqa: E402
from msitools.testing.writer.summary import SummaryInfo  # noqa: E402

OUT = ROOT / "fixtures" / "attacks"
APP = [("APP", "ProgramFilesFolder", "app|Application")]


def package(files, directories=STANDARD_DIRECTORIES + APP) -> bytes:
    return build_package(files, directories=directories).database.build("msi")


def dotdot_dir() -> bytes:
    dirs = STANDARD_DIRECTORIES + [("UP", "TARGETDIR", ".."), ("UP2", "UP", ".."), ("EVIL", "UP2", "escaped")]
    return package([PayloadFile("EVIL", "evil.txt", b"must not leave the output folder\n"),
                    PayloadFile("ProgramFilesFolder", "good.txt", b"fine\n")], dirs)


def dotdot_file() -> bytes:
    return package([PayloadFile("APP", "..\\..\\..\\evil.txt", b"backslash traversal\n", key="evil1"),
                    PayloadFile("APP", "x|../../../evil2.txt", b"slash traversal\n", key="evil2"),
                    PayloadFile("APP", "good.txt", b"fine\n", key="good")])


def absolute() -> bytes:
    dirs = STANDARD_DIRECTORIES + [("ABS", "TARGETDIR", "/tmp"), ("DRIVE", "TARGETDIR", "C:\\Windows")]
    return package([PayloadFile("ABS", "abs.txt", b"absolute\n"), PayloadFile("DRIVE", "drive.txt", b"drive\n"),
                    PayloadFile("ProgramFilesFolder", "C:evil.txt", b"drive-relative\n", key="drel"),
                    PayloadFile("ProgramFilesFolder", "good.txt", b"fine\n")], dirs)


def device_names() -> bytes:
    return package([PayloadFile("APP", "CON", b"console\n", key="con"),
                    PayloadFile("APP", "nul.txt", b"null device\n", key="nul"),
                    PayloadFile("APP", "COM1.log", b"serial\n", key="com1"),
                    PayloadFile("APP", "good.txt", b"fine\n", key="good")])


def long_names() -> bytes:
    return package([PayloadFile("APP", "x" * 300 + ".txt", b"long\n", key="long"),
                    PayloadFile("APP", "good.txt", b"fine\n", key="good")])


def case_collision() -> bytes:
    return package([PayloadFile("APP", "Readme.txt", b"first\n", key="r1"),
                    PayloadFile("APP", "README.TXT", b"second\n", key="r2"),
                    PayloadFile("APP", "readme.txt", b"third\n", key="r3")])


def size_lies() -> bytes:
    """File.FileSize claims 10 bytes; the cabinet member holds 5000: the size check must refuse it."""
    return package([PayloadFile("APP", "liar.bin", b"A" * 5000, declared_size=10),
                    PayloadFile("APP", "good.txt", b"fine\n")])


def bomb_cab_gib() -> bytes:
    """1 GiB of zeros in 32,768 MSZIP blocks (about 1.3 MB), member declared as 1,000 bytes."""
    import zlib

    block = b"\x00" * 32768
    # every block is the same raw-deflate stream ending in a final block (zeros need no history)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = b"CK" + comp.compress(block) + comp.flush()
    nblocks = 32768
    name = b"bomb.bin\x00"
    header_size = 36
    folder_size = 8
    file_size = 16 + len(name)
    coff_files = header_size + folder_size
    first_block = coff_files + file_size
    block_record = struct.pack("<IHH", 0, len(payload), 32768) + payload
    total = first_block + nblocks * len(block_record)
    header = struct.pack("<4sIIIIIBBHHHHH", b"MSCF", 0, total, 0, coff_files, 0, 3, 1, 1, 1, 0, 0x4242, 0)
    folder = struct.pack("<IHH", first_block, nblocks, 1)  # MSZIP
    cffile = struct.pack("<IIHHHH", 1000, 0, 0, 0x3C41, 0x8000, 0x20) + name
    return header + folder + cffile + block_record * nblocks


def overlap_cab() -> bytes:
    folder = FolderSpec([FileSpec("a.txt", b"A" * 100), FileSpec("b.txt", b"B" * 100)], compression="none")
    data = bytearray(build_cabinet([folder]))
    coff_files = struct.unpack_from("<I", data, 0x10)[0]
    second = coff_files + 16 + len(b"a.txt\x00")
    struct.pack_into("<I", data, second + 4, 50)  # b.txt starts inside a.txt
    return bytes(data)


def chain_loop() -> bytes:
    """A package whose _StringData mini-sector chain points back at itself."""
    sys.path.insert(0, str(ROOT / "tests"))
    from malform import Cfb

    cfb = Cfb(package([PayloadFile("APP", "a.txt", b"x" * 5000)]))
    name = encode_stream_name("_StringData", True)
    entry = cfb.entry(name)
    cfb.set_minifat(entry[3], entry[3])
    return cfb.bytes()


def pool_claims_millions() -> bytes:
    """_StringPool with 1,048,576 slots (each a 60,000-byte string) but 10 bytes of _StringData."""
    slots = struct.pack("<HH", 60000, 1) * (1 << 20)
    cfb = CompoundFileWriter("{000C1084-0000-0000-C000-000000000046}")
    cfb.add_stream("\x05SummaryInformation", SummaryInfo.for_msi(package_code="{00000000-0000-0000-0000-000000000001}")
                   .to_bytes())
    cfb.add_stream(encode_stream_name("_StringPool", True), struct.pack("<I", 1252) + slots)
    cfb.add_stream(encode_stream_name("_StringData", True), b"0123456789")
    cfb.add_stream(encode_stream_name("_Tables", True), b"")
    return cfb.to_bytes()


def transform_overrun() -> bytes:
    pool = StringPoolWriter(1252)
    key = pool.intern("a.txt")
    cfb = CompoundFileWriter("{000C1082-0000-0000-C000-000000000046}")
    cfb.add_stream("\x05SummaryInformation", SummaryInfo.for_mst(
        template="Intel;1033", revision="{11111111-2222-3333-4444-000000000001}1.0.0.0;"
        "{11111111-2222-3333-4444-000000000001}1.0.0.0;{11111111-2222-3333-4444-0000000000FF}").to_bytes())
    cfb.add_stream(encode_stream_name("_StringPool", True), pool.pool_bytes())
    cfb.add_stream(encode_stream_name("_StringData", True), pool.data_bytes())
    # an update of File.FileSize (bit 3) whose i4 cell is cut short
    cfb.add_stream(encode_stream_name("File", True), struct.pack("<HH", 0x0008, key) + b"\x01\x00")
    return cfb.to_bytes()


ATTACKS = {
    "dotdot-dir.msi": (dotdot_dir, "Directory rows whose DefaultDir is '..' climb out of SourceDir"),
    "dotdot-file.msi": (dotdot_file, "File names with ..\\ and ../ components"),
    "absolute.msi": (absolute, "absolute directory (/tmp), drive letters (C:\\Windows, C:evil.txt)"),
    "device-names.msi": (device_names, "CON, nul.txt, COM1.log"),
    "long-names.msi": (long_names, "a 304-character file name"),
    "case-collision.msi": (case_collision, "Readme.txt, README.TXT, readme.txt in one folder"),
    "size-lies.msi": (size_lies, "File.FileSize says 10 bytes, the cabinet member holds 5,000"),
    "bomb.cab": (bomb_cab_gib, "one member declared as 1,000 bytes; its folder inflates to 1 GiB"),
    "overlap.cab": (overlap_cab, "two members whose byte ranges overlap"),
    "chain-loop.msi": (chain_loop, "_StringData's mini-sector chain points at itself"),
    "pool-millions.msi": (pool_claims_millions, "_StringPool claims 1,048,576 strings of 60,000 bytes"),
    "transform-overrun.mst": (transform_overrun, "a File record that runs past its stream"),
}


def build(out: Path = OUT) -> "dict[str, bytes]":
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    for name, (make, _) in ATTACKS.items():
        data = make()
        (out / name).write_bytes(data)
        built[name] = data
    lines = ["# Hostile fixtures (built by scripts/build_attack_fixtures.py)", "",
             "| file | attack |", "|---|---|"]
    lines += [f"| `{name}` | {what} |" for name, (_, what) in ATTACKS.items()]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    return built


if __name__ == "__main__":
    for name, data in build().items():
        print(f"{name}: {len(data)} bytes")
