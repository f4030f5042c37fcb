"""One policy for holding a payload file's bytes: hashed while read, in memory up to a threshold, then on disk.

Every job that needs a payload file's bytes more than once (its SHA-256, its PE
header and version resource, its signature, a nested package) spools it here
instead of joining chunks in memory.
"""
from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, BinaryIO, cast

from msitools.errors import LimitExceeded

SPOOL_IN_MEMORY = 64 << 20  # bytes kept in memory before the spool moves to a temporary file
READ_CHUNK = 1 << 20


class Spool:
    """The bytes of one payload file, read once from *chunks*; SHA-256, SHA-1 and size computed on the way.

    Up to *in_memory* bytes are held as one ``bytes`` object (most payload files: no file object,
    no copy to read them back); a bigger file moves to an anonymous temporary file.
    """

    def __init__(self, chunks: Iterable[bytes], in_memory: int = SPOOL_IN_MEMORY):
        digest = hashlib.sha256()
        sha1 = hashlib.sha1()
        self._file: IO[bytes] | None = None
        self._view: io.BytesIO | None = None
        self._data = b""
        self._closed = False
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in chunks:
                digest.update(chunk)
                sha1.update(chunk)
                size += len(chunk)
                if self._file is not None:
                    self._file.write(chunk)
                elif size > in_memory:
                    self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
                    for part in parts:
                        self._file.write(part)
                    self._file.write(chunk)
                    parts = []
                else:
                    parts.append(chunk)
        except BaseException:
            self.close()
            raise
        if self._file is None:
            self._data = bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
        self.sha256 = digest.hexdigest()
        self.sha1 = sha1.hexdigest()
        self.size = size

    def head(self, length: int) -> bytes:
        """The first *length* bytes (fewer when the file is shorter)."""
        self._check_open()
        if self._file is None:
            return self._data[:length]
        self._file.seek(0)
        return self._file.read(length)

    def read(self, limit: int, what: str = "payload file") -> bytes:
        """All the bytes, when there are at most *limit* of them (else :class:`LimitExceeded`)."""
        if self.size > limit:
            raise LimitExceeded("pe_read_size", self.size, limit, what)
        self._check_open()
        if self._file is None:
            return self._data
        self._file.seek(0)
        return self._file.read()

    def chunks(self, size: int = READ_CHUNK) -> Iterator[bytes]:
        """The bytes again, in chunks."""
        self._check_open()
        if self._file is None:
            data = self._data
            for at in range(0, len(data), size):
                yield data if at == 0 and len(data) <= size else data[at:at + size]
            return
        self._file.seek(0)
        while True:
            block = self._file.read(size)
            if not block:
                return
            yield block

    def fileobj(self) -> BinaryIO:
        """The spool as a seekable file, positioned at the start (valid until :meth:`close`)."""
        self._check_open()
        if self._file is None:
            if self._view is None:
                self._view = io.BytesIO(self._data)
            self._view.seek(0)
            return self._view
        self._file.seek(0)
        return cast(BinaryIO, self._file)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed spool")

    def close(self) -> None:
        self._closed = True
        if self._file is not None:
            self._file.close()
        if self._view is not None:
            self._view.close()
        self._data = b""

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
