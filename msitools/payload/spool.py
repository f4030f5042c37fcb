"""One policy for holding a payload file's bytes: hashed while read, in memory up to a threshold, then on disk.

Every job that needs a payload file's bytes more than once (its SHA-256, its PE
header and version resource, its signature, a nested package) spools it here
instead of joining chunks in memory.
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, BinaryIO, cast

from msitools.errors import LimitExceeded

SPOOL_IN_MEMORY = 64 << 20  # bytes kept in memory before the spool moves to a temporary file
READ_CHUNK = 1 << 20


class Spool:
    """The bytes of one payload file, read once from *chunks*; SHA-256, SHA-1 and size computed on the way."""

    def __init__(self, chunks: Iterable[bytes], in_memory: int = SPOOL_IN_MEMORY):
        digest = hashlib.sha256()
        sha1 = hashlib.sha1()
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=in_memory)  # noqa: SIM115 (closed by close())
        size = 0
        try:
            for chunk in chunks:
                digest.update(chunk)
                sha1.update(chunk)
                self._file.write(chunk)
                size += len(chunk)
        except BaseException:
            self._file.close()
            raise
        self.sha256 = digest.hexdigest()
        self.sha1 = sha1.hexdigest()
        self.size = size

    def head(self, length: int) -> bytes:
        """The first *length* bytes (fewer when the file is shorter)."""
        self._file.seek(0)
        return self._file.read(length)

    def read(self, limit: int, what: str = "payload file") -> bytes:
        """All the bytes, when there are at most *limit* of them (else :class:`LimitExceeded`)."""
        if self.size > limit:
            raise LimitExceeded("pe_read_size", self.size, limit, what)
        self._file.seek(0)
        return self._file.read()

    def chunks(self, size: int = READ_CHUNK) -> Iterator[bytes]:
        """The bytes again, in chunks."""
        self._file.seek(0)
        while True:
            block = self._file.read(size)
            if not block:
                return
            yield block

    def fileobj(self) -> BinaryIO:
        """The spool as a seekable file, positioned at the start (valid until :meth:`close`)."""
        self._file.seek(0)
        return cast(BinaryIO, self._file)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
