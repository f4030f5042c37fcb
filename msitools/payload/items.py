"""What the payload layer yields: one :class:`PayloadItem` per file a package, patch or cabinet delivers."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from msitools.findings import Finding
from msitools.payload.spool import SPOOL_IN_MEMORY, Spool

if TYPE_CHECKING:
    from msitools.cab import CabinetMember
    from msitools.payload.files import PackageFile

KIND_FILE = "file"  # the file's own bytes
KIND_DELTA = "delta"  # a binary delta (PA19/PA30) to apply to the installed file
KIND_EMPTY = "empty"  # an empty member no File row names (PatchWiz's "filler")

NAME_FILE_TABLE = "File table"
NAME_BASE = "base File table (--base)"
NAME_PE = "PE OriginalFilename (the patch does not carry FileName)"
NAME_KEY = "File key"
NAME_MEMBER = "cabinet member"


@dataclass
class PayloadItem:
    """One delivered file: its name, where it was found, its File row and cabinet member, and its bytes.

    ``chunks`` can be consumed once, before the next item is requested;
    :meth:`spool` keeps the bytes (hashed) for jobs that need them several
    times.  ``error`` says why the bytes cannot be read (``chunks`` is then
    None).
    """

    name: str  # long file name
    source: str  # "package > cabinet > member", as the reports show it
    chunks: Iterator[bytes] | None
    error: str | None = None
    key: str | None = None  # File key
    file: PackageFile | None = None  # the File row with its install path (packages)
    row: dict[str, Any] | None = None  # the File row values a patch's transforms carry (patches)
    member: CabinetMember | None = None
    kind: str = KIND_FILE
    name_source: str = NAME_FILE_TABLE
    size: int | None = None  # bytes to expect: the member's or the source file's size
    date_time: _dt.datetime | None = None
    delta: dict[str, Any] | None = None  # the delta header (kind "delta")
    found_in: list[str] = field(default_factory=list)  # inside the package: ["hotfix.cab", "Tscore.dll"]
    notes: list[Finding] = field(default_factory=list)
    _spool: Spool | None = field(default=None, repr=False)

    @property
    def table_size(self) -> int | None:
        """File.FileSize of the row this item answers."""
        if self.file is not None:
            return self.file.size
        return self.row.get("FileSize") if self.row else None

    @property
    def table_version(self) -> str | None:
        """File.Version of the row this item answers."""
        if self.file is not None:
            return self.file.version
        return self.row.get("Version") if self.row else None

    def spool(self, in_memory: int = SPOOL_IN_MEMORY) -> Spool:
        """The bytes, read once into a :class:`Spool` (kept: later calls return the same spool)."""
        if self._spool is None:
            if self.chunks is None:
                raise ValueError(f"{self.source}: no bytes to spool ({self.error})")
            chunks, self.chunks = self.chunks, None
            self._spool = Spool(chunks, in_memory)
        return self._spool

    def close(self) -> None:
        """Release a spool made for this item."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
