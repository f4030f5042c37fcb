"""Cabinets and cabinet sets: folder streaming and member extraction.

A *folder* is one compressed stream made of CFDATA blocks; a *member* (CFFILE)
is a byte range of its folder's uncompressed stream.  A folder may continue
across the cabinets of a set: the last CFDATA of cabinet N has cbUncomp = 0
and its bytes are joined with the first CFDATA of cabinet N+1; files crossing
the boundary are listed in both cabinets (0xFFFE / 0xFFFD / 0xFFFF) and are
reported once (FORMATS.md §6.4; libmspack ``cabd_merge`` as description).

Everything streams: one CFDATA block is read, checked and decoded at a time,
so memory does not grow with the payload.  :meth:`CabinetSet.iter_members`
yields ``(member, chunks)`` pairs in folder/offset order; ``chunks`` is an
iterator of ``bytes`` that must be consumed (or dropped) before asking for the
next member.  Errors found while decoding are raised from the chunk iterator
of the member that needs the broken data; later members of the same folder
raise too, and iteration goes on with the next folder.
"""
from __future__ import annotations

import datetime as _dt
import operator
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Union

from msitools.cab import header as _h
from msitools.cab.cfdata import DataBlock, read_data_block
from msitools.cab.folder import Budget, FolderState, decoded_blocks
from msitools.cab.header import CabinetHeader, CompressionType, FileEntry, FolderEntry
from msitools.errors import CabinetError, MsiToolsError, UsageError
from msitools.limits import DEFAULT_LIMITS, Limits

Selection = Union[Collection[str], Callable[["CabinetMember"], bool], None]  # noqa: UP007 (a runtime alias)
Resolver = Callable[[str], "BinaryIO | None"]
Chunks = Iterator[bytes]



@dataclass(frozen=True, slots=True)
class CabinetMember:
    """One file stored in a cabinet (or a cabinet set)."""

    name: str
    size: int
    folder: int  # index of the (merged) folder in the set, see CabinetSet.folders
    offset: int  # offset in that folder's uncompressed stream
    date_time: _dt.datetime | None
    attributes: int
    cabinet: str  # the cabinet whose CFFILE lists the member first
    file_index: int  # index of that CFFILE in its cabinet
    compression: str  # e.g. "none", "MSZIP", "LZX:21"
    continued_from_prev: bool = False
    continued_to_next: bool = False
    date: int = field(default=0, repr=False)
    time: int = field(default=0, repr=False)

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def read_only(self) -> bool:
        return bool(self.attributes & _h.ATTR_READONLY)

    @property
    def hidden(self) -> bool:
        return bool(self.attributes & _h.ATTR_HIDDEN)

    @property
    def system(self) -> bool:
        return bool(self.attributes & _h.ATTR_SYSTEM)

    @property
    def archive(self) -> bool:
        return bool(self.attributes & _h.ATTR_ARCHIVE)

    @property
    def executable(self) -> bool:
        return bool(self.attributes & _h.ATTR_EXEC)

    @property
    def name_is_utf8(self) -> bool:
        return bool(self.attributes & _h.ATTR_NAME_IS_UTF)


class Cabinet:
    """One cabinet file: its directory, and access to its data blocks.

    Use :meth:`open` with a seekable binary file object (a plain file, a
    ``BytesIO``, an MSI stream view...).  The cabinet starts at the object's
    current position.  The object is not closed by the cabinet unless it was
    opened by :meth:`from_path`.
    """

    def __init__(self, fileobj: BinaryIO, name: str, directory: _h.Directory, base: int,
                 limits: Limits, codepage: int, owns_file: bool = False):
        self._fileobj = fileobj
        self._base = base
        self._owns_file = owns_file
        self.name = name
        self.limits = limits
        self.codepage = codepage
        self.header: CabinetHeader = directory.header
        self.folders: list[FolderEntry] = directory.folders
        self.files: list[FileEntry] = directory.files
        self.anomalies: list[str] = directory.anomalies

    @classmethod
    def open(cls, fileobj: BinaryIO, name: str | None = None, *, limits: Limits = DEFAULT_LIMITS,
             codepage: int = 0) -> Cabinet:
        """Read the directory of the cabinet at *fileobj*'s current position.

        *name* names the cabinet in errors (default: the file object's name).
        *codepage* decodes names that are not flagged UTF-8 (0 = cp1252).

        Raises:
            CabinetError: not a cabinet, truncated or malformed directory.
            LimitExceeded: too many folders, files or blocks.
        """
        if name is None:
            name = str(getattr(fileobj, "name", "<cabinet>"))
        try:
            base = fileobj.tell()
        except (OSError, AttributeError, ValueError) as exc:
            raise CabinetError(f"cabinet input is not seekable: {exc}", name) from exc
        directory = _h.read_directory(fileobj, name, base=base, limits=limits, codepage=codepage)
        return cls(fileobj, name, directory, base, limits, codepage)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS,
                  codepage: int = 0) -> Cabinet:
        """Open a cabinet file by path; :meth:`close` (or ``with``) closes it."""
        try:
            fileobj = open(path, "rb")  # noqa: SIM115 (kept open by the object, closed by close())
        except OSError as exc:
            raise CabinetError(f"cannot open cabinet: {exc.strerror or exc}", path) from exc
        try:
            cab = cls.open(fileobj, os.fspath(path), limits=limits, codepage=codepage)
        except BaseException:
            fileobj.close()
            raise
        cab._owns_file = True
        return cab

    def close(self) -> None:
        if self._owns_file:
            self._fileobj.close()

    def __enter__(self) -> Cabinet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Cabinet {self.name!r} folders={len(self.folders)} files={len(self.files)}>"

    # header conveniences
    @property
    def set_id(self) -> int:
        return self.header.set_id

    @property
    def set_index(self) -> int:
        return self.header.i_cabinet

    @property
    def prev_cabinet(self) -> str | None:
        return self.header.prev_cabinet

    @property
    def next_cabinet(self) -> str | None:
        return self.header.next_cabinet

    def data_blocks(self, folder: int) -> Iterator[DataBlock]:
        """The raw CFDATA blocks of one of this cabinet's folders (not verified)."""
        entry = self.folders[folder]
        offset = entry.coff_cab_start
        for index in range(entry.c_cf_data):
            block = read_data_block(self._fileobj, base=self._base, offset=offset,
                                    reserve_size=self.header.cb_cf_data, cabinet=self.name,
                                    folder=entry.index, index=index, cabinet_size=self.header.cb_cabinet)
            offset = block.end
            yield block

    # member access through a one-cabinet set
    def as_set(self) -> CabinetSet:
        return CabinetSet([self])

    def list_members(self) -> list[CabinetMember]:
        return self.as_set().list_members()

    def iter_members(self, selection: Selection = None, *, backend: str = "auto",
                     verify_checksums: bool = True) -> Iterator[tuple[CabinetMember, Chunks]]:
        return self.as_set().iter_members(selection, backend=backend, verify_checksums=verify_checksums)

    def read_member(self, name: str, *, backend: str = "auto", verify_checksums: bool = True) -> bytes:
        return self.as_set().read_member(name, backend=backend, verify_checksums=verify_checksums)


@dataclass
class SetFolder:
    """A logical folder: one or more cabinets' CFFOLDERs joined into one stream."""

    index: int
    segments: list[tuple[Cabinet, FolderEntry]]
    members: list[CabinetMember] = field(default_factory=list)
    missing_prev: str | None = None  # why the start of the stream is not available
    problems: dict[int, str] = field(default_factory=dict)  # member position -> error text
    duplicates: dict[int, int] = field(default_factory=dict)  # member position -> the member it repeats

    @property
    def entry(self) -> FolderEntry:
        return self.segments[0][1]

    @property
    def cabinet(self) -> Cabinet:
        return self.segments[0][0]

    def describe(self) -> str:
        text = self.__dict__.get("_described")
        if text is None:
            text = self.__dict__["_described"] = self.entry.describe()
        return text


def directory_resolver(directory: str | os.PathLike[str]) -> Resolver:
    """A resolver that opens the next cabinet from *directory*.

    Only plain file names are accepted (no path separators, no ``..``), and
    the name is matched case-insensitively, as cabinet names come from
    case-insensitive file systems.  Missing files resolve to None.
    """
    root = os.fspath(directory)

    def resolve(name: str) -> BinaryIO | None:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            return None
        candidate = os.path.join(root, name)
        if not os.path.isfile(candidate):
            try:
                matches = [n for n in os.listdir(root) if n.lower() == name.lower()]
            except OSError:
                return None
            if not matches:
                return None
            candidate = os.path.join(root, sorted(matches)[0])
        try:
            return open(candidate, "rb")
        except OSError:
            return None

    return resolve


def _opened_name(fileobj: BinaryIO, name: str) -> str:
    """The path a resolver opened (it may differ from the header's name in case), else *name*."""
    path = getattr(fileobj, "name", None)
    return path if isinstance(path, str) and os.path.basename(path).lower() == name.lower() else name


class CabinetSet:
    """One cabinet or a chain of cabinets read as one archive.

    ``CabinetSet([cab1, cab2, ...])`` takes the cabinets in set order;
    ``CabinetSet(cab1, resolver=fn)`` (or a list plus a resolver) follows
    szCabinetNext from the last cabinet, calling ``fn(name)`` for a binary
    file object (or None when it cannot be found).  With *from_any_member*,
    it first follows szCabinetPrev back to the first cabinet, so that any
    cabinet of a set opens the whole set (as cabextract does); ``opened_from``
    then names the cabinet given.  Cabinets opened through the resolver are
    closed by :meth:`close`.
    """

    def __init__(self, cabinets: Cabinet | Sequence[Cabinet], *, resolver: Resolver | None = None,
                 limits: Limits | None = None, from_any_member: bool = False):
        cabs = [cabinets] if isinstance(cabinets, Cabinet) else list(cabinets)
        if not cabs:
            raise UsageError("a cabinet set needs at least one cabinet")
        self.limits = limits or cabs[0].limits
        self.anomalies: list[str] = []
        self._opened: list[BinaryIO] = []
        self.opened_from = cabs[0].name
        if resolver is not None and from_any_member:
            self._follow_back(cabs, resolver)
        if resolver is not None:
            self._follow(cabs, resolver)
        self.limits.check("cab_set_members", len(cabs), "cabinets in the set", cabs[0].name)
        self.cabinets: list[Cabinet] = cabs
        self.folders: list[SetFolder] = []
        self.members: list[CabinetMember] = []  # in CFFILE order
        self._build()

    @property
    def name(self) -> str:
        return self.cabinets[0].name

    def close(self) -> None:
        for fileobj in self._opened:
            fileobj.close()
        self._opened.clear()

    def __enter__(self) -> CabinetSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open_named(self, name: str, beside: Cabinet, resolver: Resolver, which: str) -> BinaryIO | None:
        try:
            fileobj = resolver(name)
        except MsiToolsError:
            raise
        except Exception as exc:  # the resolver is caller code; report, do not leak
            raise CabinetError(f"resolver failed for {which} cabinet {name!r}: {exc}", beside.name) from exc
        if fileobj is not None:
            self._opened.append(fileobj)
        return fileobj

    def _follow_back(self, cabs: list[Cabinet], resolver: Resolver) -> None:
        """Open the cabinets before the first one (szCabinetPrev), so the set starts at its first cabinet."""
        self._chain(cabs, resolver, backwards=True)

    def _follow(self, cabs: list[Cabinet], resolver: Resolver) -> None:
        """Open the cabinets after the last one (szCabinetNext)."""
        self._chain(cabs, resolver, backwards=False)

    def _chain(self, cabs: list[Cabinet], resolver: Resolver, backwards: bool) -> None:
        seen = {os.path.basename(c.name).lower() for c in cabs}
        which, relation = ("previous", "before") if backwards else ("next", "after")
        end = cabs[0] if backwards else cabs[-1]
        while True:
            linked = end.header.has_prev if backwards else end.header.has_next
            name = end.prev_cabinet if backwards else end.next_cabinet
            if not (linked and name):
                return
            if os.path.basename(name).lower() in seen:
                raise CabinetError(f"cabinet set loops back to {name!r}", end.name)
            self.limits.check("cab_set_members", len(cabs) + 1, "cabinets in the set", cabs[0].name)
            fileobj = self._open_named(name, end, resolver, which)
            if fileobj is None:
                self.anomalies.append(f"{which} cabinet {name!r} ({relation} {end.name!r}) was not found")
                return
            cab = Cabinet.open(fileobj, _opened_name(fileobj, name), limits=self.limits, codepage=end.codepage)
            seen.add(os.path.basename(name).lower())
            cabs.insert(0 if backwards else len(cabs), cab)
            end = cab

    def _build(self) -> None:
        carry: SetFolder | None = None  # previous cabinet's last folder, if it continues
        self._position: dict[int, int] = {}  # id(member) -> position of its cabinet in the set
        for position, cab in enumerate(self.cabinets):
            self._cab_position = position
            if position and cab.set_id != self.cabinets[0].set_id:
                self.anomalies.append(f"{cab.name}: set ID {cab.set_id} differs from {self.cabinets[0].set_id}")
            nfolders = len(cab.folders)
            by_folder: list[list[FileEntry]] = [[] for _ in range(nfolders)]
            for entry in cab.files:
                by_folder[entry.folder_index(nfolders)].append(entry)
            next_carry = None
            for index, folder in enumerate(cab.folders):
                files = by_folder[index]
                continues_in = index == 0 and any(f.continued_from_prev for f in files)
                continues_out = index == nfolders - 1 and any(f.continued_to_next for f in files)
                target: SetFolder | None = None
                if index == 0 and carry is not None:
                    if carry.entry.type_compress == folder.type_compress:
                        target = carry
                        target.segments.append((cab, folder))
                    else:
                        self.anomalies.append(
                            f"{cab.name}: first folder ({folder.describe()}) cannot continue "
                            f"{carry.cabinet.name}'s last folder ({carry.describe()})"
                        )
                if target is None:
                    target = SetFolder(len(self.folders), [(cab, folder)])
                    self.folders.append(target)
                    if continues_in:
                        prev = cab.prev_cabinet or "?"
                        target.missing_prev = (
                            f"folder starts in previous cabinet {prev!r}, which is not part of this set"
                        )
                    for entry in files:
                        self._add_member(target, cab, entry)
                else:
                    known = {(m.offset, m.size) for m in target.members if m.continued_to_next}
                    for entry in files:
                        if entry.continued_from_prev and (entry.uoff_folder_start, entry.cb_file) in known:
                            continue  # the same file, already listed by an earlier cabinet
                        self._add_member(target, cab, entry)
                if continues_out:
                    next_carry = target
            carry = next_carry
        # members were added folder by folder: list them in CFFILE order, and
        # each folder's in offset order (ties keep the order of appearance)
        if len(self.cabinets) == 1:
            self.members.sort(key=operator.attrgetter("file_index"))
        else:
            self.members.sort(key=lambda m: (self._position[id(m)], m.file_index))
        by_offset = operator.attrgetter("offset", "size")
        for set_folder in self.folders:
            set_folder.members.sort(key=by_offset)  # a stable sort: ties keep their order of appearance
            self._check_overlaps(set_folder)
        del self._position, self._cab_position

    def _add_member(self, folder: SetFolder, cab: Cabinet, entry: FileEntry) -> None:
        member = CabinetMember(
            entry.name, entry.cb_file, folder.index, entry.uoff_folder_start, entry.datetime, entry.attribs,
            cab.name, entry.index, folder.describe(), entry.continued_from_prev, entry.continued_to_next,
            entry.date, entry.time,
        )
        folder.members.append(member)
        self.members.append(member)
        self._position[id(member)] = self._cab_position

    @staticmethod
    def _check_overlaps(folder: SetFolder) -> None:
        """Members whose bytes overlap another's are refused, except exact repeats (WiX shares the bytes
        of identical files between File keys): those are served again from the first one."""
        covered_end = 0
        owner: CabinetMember | None = None
        owner_position = 0
        for position, member in enumerate(folder.members):
            if member.size and owner is not None and (member.offset, member.end) == (owner.offset, owner.end):
                folder.duplicates[position] = owner_position
                continue
            if member.size and owner is not None and member.offset < covered_end:
                folder.problems[position] = (
                    f"member {member.name!r} (bytes {member.offset}..{member.end} of folder {folder.index}) "
                    f"overlaps member {owner.name!r} (bytes {owner.offset}..{owner.end})"
                )
                continue
            if member.end > covered_end:
                covered_end = member.end
                owner = member
                owner_position = position

    # -- listing ---------------------------------------------------------------

    def list_members(self) -> list[CabinetMember]:
        """All members, in the order the cabinets list them (continuations once)."""
        return list(self.members)

    def find(self, name: str) -> CabinetMember | None:
        for member in self.members:
            if member.name == name:
                return member
        return None

    # -- extraction ------------------------------------------------------------

    def iter_members(self, selection: Selection = None, *, backend: str = "auto",
                     verify_checksums: bool = True) -> Iterator[tuple[CabinetMember, Chunks]]:
        """Yield ``(member, chunks)`` in folder/offset order.

        *selection*: None (all), a collection of names, or a predicate on
        :class:`CabinetMember`.  *backend*: ``"python"`` (this package's
        decoders), ``"libarchive"`` (libarchive-c; single cabinets with
        none/MSZIP/LZX only; the caller's choice, even for a library that fails
        the LZX probe) or ``"auto"`` (libarchive for LZX when it applies and
        :func:`~msitools.cab.libarchive_backend.lzx_trusted` holds, the Python
        decoders otherwise and as fallback).  Checksums are verified
        by the Python path when *verify_checksums* is true; libarchive always
        verifies them.

        Raises (from the chunk iterators): CabinetError and its subclasses
        ChecksumError, DecompressionError; LimitExceeded.
        """
        if backend not in ("auto", "python", "libarchive"):
            raise UsageError(f"unknown cabinet backend {backend!r} (auto, python, libarchive)")
        wanted = _selector(selection)
        if backend == "auto" and not any(f.entry.compression == CompressionType.LZX for f in self.folders):
            # stored and MSZIP folders decode in C either way (zlib); the Python path has less
            # per-member overhead than libarchive's, which matters for thousands of small files
            backend = "python"
        if backend != "python":
            from msitools.cab import libarchive_backend

            reason = libarchive_backend.unsuitable(self, verify_checksums)
            if reason is None and not libarchive_backend.available():
                reason = "libarchive-c is not installed"
            if reason is None and backend == "auto":
                trusted, why = libarchive_backend.lzx_trusted()
                reason = None if trusted else why
            if reason is None:
                return libarchive_backend.iter_members(self, wanted, fallback=backend == "auto",
                                                       verify_checksums=verify_checksums)
            if backend == "libarchive":
                raise CabinetError(f"the libarchive backend cannot read this cabinet: {reason}", self.name)
        return self._iter_python(wanted, verify_checksums)

    def read_member(self, name: str, *, backend: str = "auto", verify_checksums: bool = True) -> bytes:
        """The whole content of the first member called *name* (for small members).

        Raises:
            UsageError: no member has that name.
            CabinetError, LimitExceeded: as :meth:`iter_members`.
        """
        member = self.find(name)
        if member is None:
            raise UsageError(f"no member named {name!r}", self.name)
        for _found, chunks in self.iter_members(lambda m: m is member, backend=backend,
                                               verify_checksums=verify_checksums):
            return b"".join(chunks)
        raise UsageError(f"no member named {name!r}", self.name)  # pragma: no cover

    def _iter_python(self, wanted: Callable[[CabinetMember], bool],
                     verify: bool) -> Iterator[tuple[CabinetMember, Chunks]]:
        budget = Budget(self.limits, self.name)
        for folder in self.folders:
            picked = {pos for pos, m in enumerate(folder.members) if wanted(m)}
            picked |= {folder.duplicates[pos] for pos in picked if pos in folder.duplicates}
            if not picked:
                continue
            state = FolderState(self, folder, verify, budget)
            repeated = set(folder.duplicates.values())
            kept: dict[int, bytes] = {}  # the bytes of members that others repeat
            for position in sorted(picked):
                member = folder.members[position]
                token = object()
                state.current = token
                if position in folder.duplicates:
                    yield member, self._repeat(kept, folder.duplicates[position], member)
                    continue
                chunks = state.chunks(position, member, token)
                if position in repeated:
                    kept[position] = b"".join(self._bounded(chunks, member))
                    chunks = iter([kept[position]])
                if wanted(member):
                    yield member, chunks
            state.current = None

    def _bounded(self, chunks: Chunks, member: CabinetMember) -> Chunks:
        self.limits.check("pe_read_size", member.size, f"member {member.name!r} repeated by another member",
                          self.name)
        return chunks

    def _repeat(self, kept: dict[int, bytes], owner: int, member: CabinetMember) -> Chunks:
        if owner not in kept:
            raise CabinetError(f"member {member.name!r} repeats the bytes of a member that could not be read",
                               member.cabinet)
        yield kept[owner]

    def folder_stream(self, folder: int, *, verify_checksums: bool = True) -> Iterator[bytes]:
        """The decoded blocks of one (merged) folder, in order."""
        return decoded_blocks(self, self.folders[folder], verify_checksums, Budget(self.limits, self.name))


def _selector(selection: Selection) -> Callable[[CabinetMember], bool]:
    if selection is None:
        return lambda member: True
    if callable(selection):
        return selection
    names = set(selection)
    return lambda member: member.name in names
