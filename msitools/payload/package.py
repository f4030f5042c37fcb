"""The payload of an installer database (.msi, .msm), patched or not: File rows and their bytes.

Bytes come from the cabinet a file's Media row names (an embedded stream of the
package that holds the row, or a cabinet file beside the package, with the rest
of its set), or from the source image beside the package for uncompressed files.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from msitools.base.fsutil import check_component, read_file_chunks, safe_join
from msitools.cab import Cabinet, CabinetMember, CabinetSet
from msitools.db.package import Package
from msitools.errors import ExtractionError, MsiToolsError, UnsafePathError
from msitools.findings import Finding
from msitools.limits import Limits
from msitools.payload.files import FileListing, MediaInfo, PackageFile, SourceTree, list_package_files
from msitools.payload.items import PayloadItem

if TYPE_CHECKING:
    from msitools.db.patched import PatchedDatabase

def package_dir(pkg: Package) -> str:
    """The folder holding the package (where external cabinets and the source image are)."""
    return os.path.dirname(os.path.abspath(pkg.path))


def find_beside(directory: str, name: str) -> str | None:
    """A file next to the package, matched case-insensitively (names come from Windows)."""
    try:
        check_component(name)
    except UnsafePathError:
        return None
    candidate = os.path.join(directory, name)
    if os.path.isfile(candidate):
        return candidate
    try:
        for entry in sorted(os.listdir(directory)):
            if entry.lower() == name.lower() and os.path.isfile(os.path.join(directory, entry)):
                return os.path.join(directory, entry)
    except OSError:
        return None
    return None


class CabinetOpener:
    """Opens the cabinet of a Media row (embedded stream or file beside the package) and its set."""

    def __init__(self, pkg: Package, media: list[MediaInfo], limits: Limits):
        self.pkg = pkg
        self.media = media
        self.limits = limits
        self.directory = package_dir(pkg)

    def _open(self, medium: MediaInfo | None, name: str) -> BinaryIO:
        if medium is not None and medium.embedded:
            origin = medium.origin
            if origin.find_stream(name) is None:
                raise ExtractionError(f"cabinet stream {name!r} named by Media row {medium.disk_id} is not in "
                                      f"{os.path.basename(origin.path)}")
            return origin.open_stream(name)
        path = find_beside(self.directory, name)
        if path is None:
            raise ExtractionError(f"external cabinet {name!r} not found beside {os.path.basename(self.pkg.path)}")
        return open(path, "rb")

    def resolver(self, name: str) -> BinaryIO | None:
        """The next or previous cabinet of a set, by the name a cabinet header gives."""
        for medium in self.media:
            if medium.cabinet_name and medium.cabinet_name.lower() == name.lower():
                return self._open(medium, medium.cabinet_name)
        found = find_beside(self.directory, name)
        return open(found, "rb") if found else None

    def open_set(self, medium: MediaInfo) -> tuple[CabinetSet, list[BinaryIO]]:
        """The cabinet set starting at *medium*'s cabinet, and the file handles to close with it."""
        fileobj = self._open(medium, medium.cabinet_name or "")
        try:
            cab = Cabinet.open(fileobj, medium.describe() if medium.embedded else medium.cabinet_name,
                               limits=self.limits)
            cabset = CabinetSet(cab, resolver=self.resolver, limits=self.limits)
        except BaseException:
            fileobj.close()
            raise
        return cabset, [fileobj]


def _item(f: PackageFile, source: str, chunks: Iterator[bytes] | None, error: str | None = None,
          member: CabinetMember | None = None, size: int | None = None) -> PayloadItem:
    where = source.split(" > ")[1:-1] or [source]  # the cabinet (or source-image path) inside the package
    return PayloadItem(f.file_name, source, chunks, error, key=f.key, file=f, member=member,
                       found_in=where + [f.file_name],
                       size=member.size if member is not None else size,
                       date_time=member.date_time if member is not None else None)


class _PackageWalk:
    """State of one walk: which files are wanted, which are done, which cabinets are consumed."""

    def __init__(self, pkg: Package, view: PatchedDatabase | None, listing: FileListing, backend: str,
                 limits: Limits, only: Callable[[PackageFile], bool] | None):
        self.pkg = pkg
        self.view = view
        self.listing = listing
        self.backend = backend
        self.opener = CabinetOpener(pkg, listing.media, limits)
        self.base_name = os.path.basename(pkg.path)
        self.pending = [f for f in listing.files if only is None or only(f)]
        self.accepted = {id(f) for f in self.pending}
        self.compressed: dict[int, list[PackageFile]] = {}  # every compressed file, by medium
        for f in listing.files:
            if f.compressed and f.media is not None:
                self.compressed.setdefault(id(f.media), []).append(f)
        self.consumed: set[str] = set()
        self.done: set[str] = set()

    def __iter__(self) -> Iterator[PayloadItem]:
        for medium in self.listing.media:
            wanted = self.compressed.get(id(medium))
            if wanted and (medium.cabinet_name or "").lower() not in self.consumed:
                yield from self._cabinet_set(medium, wanted)
        yield from self._remaining()

    def _failed(self, files: list[PackageFile], where: str, error: str) -> Iterator[PayloadItem]:
        for f in files:
            if id(f) in self.accepted and f.key not in self.done:
                self.done.add(f.key)
                yield _item(f, where, None, error)

    def _cabinet_set(self, medium: MediaInfo, wanted: list[PackageFile]) -> Iterator[PayloadItem]:
        try:
            cabset, handles = self.opener.open_set(medium)
        except MsiToolsError as exc:
            yield from self._failed(wanted, medium.describe(), exc.message)
            return
        in_set = wanted
        try:
            set_names = {c.name.rsplit(" > ", 1)[-1].lower() for c in cabset.cabinets}
            self.consumed |= set_names
            in_set = [f for m in self.listing.media if (m.cabinet_name or "").lower() in set_names
                      for f in self.compressed.get(id(m), []) if id(f) in self.accepted]
            self.listing.findings.extend(Finding(medium.describe(), note) for note in cabset.anomalies)
            if in_set:  # none of this set's files wanted: not a block of it is decoded
                yield from self._members(medium, cabset, in_set)
        except MsiToolsError as exc:
            yield from self._failed(in_set, medium.describe(), str(exc))
        finally:
            cabset.close()
            for handle in handles:
                handle.close()

    def _members(self, medium: MediaInfo, cabset: CabinetSet, in_set: list[PackageFile]) -> Iterator[PayloadItem]:
        # the package holding an embedded cabinet (a patch's cabinet lives in the patch)
        holder = os.path.basename(medium.origin.path) if medium.embedded else self.base_name
        by_key = {f.key: f for f in in_set}
        by_lower: dict[str, PackageFile] = {}
        for f in in_set:
            by_lower.setdefault(f.key.lower(), f)

        def owner(member: CabinetMember) -> PackageFile | None:
            f = by_key.get(member.name) or by_lower.get(member.name.lower())
            return f if f is not None and f.key not in self.done else None

        prefixes: dict[str, str] = {}
        for member, chunks in cabset.iter_members(lambda m: owner(m) is not None, backend=self.backend):
            found = owner(member)
            if found is None:
                continue
            self.done.add(found.key)
            prefix = prefixes.get(member.cabinet)
            if prefix is None:
                prefix = prefixes[member.cabinet] = f"{holder} > {member.cabinet.rsplit(' > ', 1)[-1]} > "
            yield _item(found, prefix + member.name, chunks, member=member)

    def _remaining(self) -> Iterator[PayloadItem]:
        source_tree: SourceTree | None = None
        for f in self.pending:
            if f.key in self.done:
                continue
            if f.compressed:
                where = f.media.describe() if f.media else "no Media row"
                yield _item(f, where, None, f"not found in cabinet ({where})")
                continue
            if source_tree is None:
                source_tree = SourceTree(self.pkg, self.view)
            yield self._uncompressed(f, source_tree.path(f))

    def _uncompressed(self, f: PackageFile, rel: list[str]) -> PayloadItem:
        try:
            path = safe_join(package_dir(self.pkg), rel)
        except UnsafePathError as exc:
            return _item(f, "source tree", None, exc.message)
        if not path.is_file():
            return _item(f, "source tree", None,
                         f"uncompressed file not found at {'/'.join(rel)} beside the package")
        return _item(f, f"{self.base_name} (source) > {'/'.join(rel)}", read_file_chunks(str(path)),
                     size=path.stat().st_size)


def iter_package_payload(pkg: Package, view: PatchedDatabase | None = None, listing: FileListing | None = None,
                         backend: str = "auto", limits: Limits | None = None,
                         only: Callable[[PackageFile], bool] | None = None) -> Iterator[PayloadItem]:
    """Every file of the (patched) package with its bytes, cabinet by cabinet, in sequence order.

    The chunk iterator of an item must be consumed (or dropped) before the next
    item is requested.  Files that cannot be read come with ``error`` set.
    *only*: yield just the files it accepts (cabinet sets are still opened from
    their first cabinet, so a file continued across cabinets is found the same
    way; folders holding none of the accepted files are not decoded).
    Cabinet anomalies are added to ``listing.findings``.
    """
    listing = listing or list_package_files(pkg, view)
    return iter(_PackageWalk(pkg, view, listing, backend, limits or pkg.limits, only))
