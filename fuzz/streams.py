"""A flat "stream container" so fuzzers can mutate the streams of a compound file directly.

Mutating a whole .msi byte by byte mostly breaks the compound-file layer
(which the ``cfb`` target covers).  The container lists streams by their raw
directory names, and :func:`build` turns it back into a compound file with
the project's writer, so every mutation reaches the database, summary,
transform or cabinet layer intact.

Layout: ``MAGIC``, one kind byte (0 msi, 1 msp, 2 mst, other: no class),
then records ``u8 name length, name (UTF-8; storages separated by '/'),
u32 LE data length, data``.  A truncated record ends the list; a length
running past the end is clipped.
"""
from __future__ import annotations

import struct

from msitools.container.cfb import CompoundFile, Entry
from msitools.container.cfb_writer import CompoundFileWriter, Storage

MAGIC = b"MSFZ"
KIND_CLSIDS = {
    0: "{000C1084-0000-0000-C000-000000000046}",
    1: "{000C1086-0000-0000-C000-000000000046}",
    2: "{000C1082-0000-0000-C000-000000000046}",
}
KIND_BYTES = {"msi": 0, "msm": 0, "msp": 1, "mst": 2}
MAX_RECORDS = 512


def is_container(data: bytes) -> bool:
    return data[:4] == MAGIC


def pack(kind: int, streams: "list[tuple[str, bytes]]") -> bytes:
    """The container for *streams* (``(path, data)``) of a file of *kind*."""
    out = bytearray(MAGIC + bytes([kind]))
    for path, data in streams:
        name = path.encode("utf-8")
        out += bytes([len(name)]) + name + struct.pack("<I", len(data)) + data
    return bytes(out)


def unpack(data: bytes) -> "tuple[int, list[tuple[str, bytes]]]":
    """Kind byte and ``(path, data)`` records of a container (lenient: garbage ends the list)."""
    kind = data[4] if len(data) > 4 else 0
    pos = 5
    records = []
    while pos < len(data) and len(records) < MAX_RECORDS:
        n = data[pos]
        pos += 1
        name = data[pos:pos + n].decode("utf-8", "replace")
        pos += n
        if pos + 4 > len(data):
            break
        (size,) = struct.unpack_from("<I", data, pos)
        pos += 4
        records.append((name, data[pos:pos + size]))
        pos += size
    return kind, records


def build(data: bytes) -> "bytes | None":
    """The compound file described by a container, or None when the writer refuses its names."""
    kind, records = unpack(data)
    writer = CompoundFileWriter(KIND_CLSIDS.get(kind))
    try:
        for path, content in records:
            parts = [p for p in path.split("/")]
            storage: Storage = writer.root
            for part in parts[:-1]:
                child = storage.children.get(part)
                if child is None:
                    child = storage.add_storage(part)
                if not isinstance(child, Storage):
                    return None
                storage = child
            storage.add_stream(parts[-1], content)
        return writer.to_bytes()
    except Exception:  # the writer's own checks (names, duplicates): not an input worth fuzzing
        return None


def streams_of(path_or_bytes, max_stream: "int | None" = None) -> "tuple[int, list[tuple[str, bytes]]]":
    """Kind byte and every stream of an existing compound file (for seeds).

    *max_stream* truncates long streams (cabinets) to keep seeds small.
    """
    from msitools.db.package import KIND_BY_CLSID

    with CompoundFile(path_or_bytes) as cfb:
        kind = KIND_BYTES.get(KIND_BY_CLSID.get(cfb.root.clsid, ""), 3)
        out = []
        for entry in cfb.walk():
            if entry.is_stream:
                content = cfb.read_stream(entry)
                if max_stream is not None:
                    content = content[:max_stream]
                out.append((entry.path, content))
        return kind, out


def storage_streams(cfb: CompoundFile, storage: Entry) -> "list[tuple[str, bytes]]":
    """The streams directly inside *storage*, by raw name (a transform substorage as an .mst)."""
    return [(kid.name, cfb.read_stream(kid)) for kid in storage.children if kid.is_stream]
