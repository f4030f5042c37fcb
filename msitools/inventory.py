"""Everything a file delivers, recursively: the one walk ``files --hash`` and ``sbom`` share.

:func:`walk` opens a package (MSI, MSM, MSP, optionally patched) or a bare cabinet (and the
rest of its set) and yields every payload file with where it was found.  With *recursive*,
a payload file that is itself a package (an installer or a patch in a hotfix's cabinet)
is yielded and then walked in turn, its files found ``inside`` it.  Files whose bytes
cannot be read come with ``error`` set; the walk goes on.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from msitools.base.fsutil import read_magic
from msitools.cab.header import SIGNATURE as CAB_MAGIC
from msitools.container.cfb import CFB_MAGIC
from msitools.db.package import Package, open_package
from msitools.errors import MsiToolsError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.payload.items import KIND_EMPTY, PayloadItem
from msitools.payload.package import iter_package_payload

DIGESTS = ("sha256", "sha1", "md5")


@dataclass
class Delivered:
    """One payload file: where it was found, its install path (or member name), its item."""

    where: list[str]  # the packages and cabinets around it, outermost first
    path: str  # install path (SourceDir\\...) for a package's file, the member name in a patch or cabinet
    item: PayloadItem
    package: dict[str, Any] = field(default_factory=dict)  # facts of the package it belongs to
    nested: bool = False  # a package itself (walked after it, with recursive)
    member: str | None = None  # the cabinet member (a patch's files are named by File key there)

    @property
    def name(self) -> str:
        return self.item.name


def package_facts(pkg: Package) -> dict[str, Any]:
    """What an inventory says of a package: kind, product name/version/codes, manufacturer."""
    facts: dict[str, Any] = {"kind": pkg.kind, "path": pkg.path}
    table = pkg.get_table("Property") if pkg.kind in ("msi", "msm") else None
    if table is not None:
        props = {r.get("Property"): r.get("Value") for r in table.records()}
        for key, name in (("ProductName", "product_name"), ("ProductVersion", "product_version"),
                          ("Manufacturer", "manufacturer"), ("ProductCode", "product_code"),
                          ("UpgradeCode", "upgrade_code")):
            if props.get(key):
                facts[name] = props[key]
    try:
        summary = pkg.summary.to_dict()
    except MsiToolsError:
        summary = {}
    for key in ("package_code", "patch_code", "title", "subject", "author"):
        if summary.get(key):
            facts.setdefault(key, summary[key])
    return facts


def walk(path: str | os.PathLike[str], *, recursive: bool = False, limits: Limits = DEFAULT_LIMITS,
         view: Any = None, on_package: Any = None, only: Any = None) -> Iterator[Delivered]:
    """Every payload file of the package or cabinet at *path* (see the module documentation).

    *view*: an already-patched view of the package (its changed files then carry ``@op``).
    *on_package*: called as ``on_package(pkg, chain)`` with every package opened (the file
    itself and, with *recursive*, each package inside), before its files are yielded.
    *only*: for an installer database at *path*, walk just the File rows it accepts (a
    :class:`~msitools.payload.files.PackageFile` predicate; cabinets holding none are not decoded).
    Raises only when *path* itself cannot be opened.
    """
    path = os.fspath(path)
    chain = [os.path.basename(path)]
    magic = read_magic(path)
    if magic[:4] == CAB_MAGIC or magic[:2] == b"MZ":
        yield from _cabinet(path, chain, recursive, limits, 0, on_package)
        return
    with open_package(path, limits) as pkg:
        yield from _package(pkg, chain, recursive, limits, 0, view, on_package, only)


def _package(pkg: Package, chain: list[str], recursive: bool, limits: Limits, level: int,
             view: Any = None, on_package: Any = None, only: Any = None) -> Iterator[Delivered]:
    facts = package_facts(pkg)
    if on_package is not None:
        on_package(pkg, chain)
    if pkg.kind == "msp":
        from msitools.patch.msp import Msp
        from msitools.patch.payload import NOT_IN_CABINET, PatchPayload

        walk_patch = PatchPayload(Msp(pkg), where=" > ".join(chain))
        for item in walk_patch:
            if item.kind == KIND_EMPTY or item.error == NOT_IN_CABINET:
                continue
            label = item.member.name if item.member is not None else item.key or item.name
            yield from _emit(Delivered(chain + item.found_in[:-1], item.name, item, facts, member=label), recursive,
                             limits, level, on_package)
    elif pkg.kind in ("msi", "msm"):
        for item in iter_package_payload(pkg, view, only=only):
            path = item.file.display_path if item.file is not None else item.name
            yield from _emit(Delivered(chain + item.found_in[:-1], path, item, facts), recursive, limits, level,
                             on_package)


def _cabinet(path: str, chain: list[str], recursive: bool, limits: Limits, level: int,
             on_package: Any = None) -> Iterator[Delivered]:
    """A cabinet (and its set) or an executable container; a plain PE image is its own one file."""
    from msitools.base.fsutil import read_file_chunks
    from msitools.payload.containers import open_members
    from msitools.payload.exe import KIND_PE

    with open_members(path, limits=limits) as walk_members:
        facts = {"kind": walk_members.kind, "path": path}
        if walk_members.kind == KIND_PE:
            item = PayloadItem(chain[0], chain[0], read_file_chunks(path), found_in=[chain[0]])
            yield Delivered([], chain[0], item, facts)
            return
        outer = [] if walk_members.kind in ("cab", "msu") else chain
        for item in walk_members:
            yield from _emit(Delivered(outer + list(item.found_in[:-1]), item.found_in[-1] if item.found_in
                                       else item.name, item, facts), recursive, limits, level, on_package)


def _emit(found: Delivered, recursive: bool, limits: Limits, level: int, on_package: Any = None
          ) -> Iterator[Delivered]:
    item = found.item
    if not recursive or item.error is not None or item.chunks is None:
        yield found
        return
    try:
        spool = item.spool()
    except MsiToolsError as exc:
        item.error = exc.message
        yield found
        return
    head = spool.head(8)
    found.nested = head == CFB_MAGIC or head[:4] == CAB_MAGIC
    yield found
    if not found.nested or level + 1 > limits.package_nesting_depth:
        return
    inner = found.where + [found.item.name]
    try:
        if head == CFB_MAGIC:
            with open_package(spool.fileobj(), limits, name=found.item.name) as nested:
                yield from _package(nested, inner, recursive, limits, level + 1, None, on_package)
        else:  # a cabinet inside (an .msu's update cabinet)
            from msitools.payload.cabinet import CabinetPayload

            with CabinetPayload(found.item.name, fileobj=spool.fileobj(), label=found.item.name,
                                limits=limits) as cab:
                facts = {"kind": cab.kind, "path": found.item.name}
                for inner_item in cab:
                    yield from _emit(Delivered(found.where + list(inner_item.found_in[:-1]),
                                               inner_item.found_in[-1], inner_item, facts), recursive, limits,
                                     level + 1, on_package)
    except MsiToolsError as exc:
        item.error = f"a package inside that does not open: {exc.message}"
    finally:
        item.close()


def digest(found: Delivered, algorithm: str = "sha256") -> tuple[int | None, str | None, str | None]:
    """``(size, hex digest, error)`` of a delivered file, its bytes streamed through a spool."""
    import hashlib

    if algorithm not in DIGESTS:
        raise ValueError(f"unknown digest {algorithm!r} ({', '.join(DIGESTS)})")
    item = found.item
    if item.error is not None:
        return None, None, item.error
    try:
        spool = item.spool()
    except MsiToolsError as exc:
        return None, None, exc.message
    if algorithm == "sha256":
        return spool.size, spool.sha256, None
    if algorithm == "sha1":
        return spool.size, spool.sha1, None
    h = hashlib.new(algorithm)
    for chunk in spool.chunks():
        h.update(chunk)
    return spool.size, h.hexdigest(), None


def hash_listing(path: str | os.PathLike[str], algorithm: str = "sha256", *, recursive: bool = False,
                 limits: Limits = DEFAULT_LIMITS, view: Any = None) -> list[dict[str, Any]]:
    """``files --hash``: one row per delivered file: where, install path, name, size, digest (or error)."""
    rows = []
    for found in walk(path, recursive=recursive, limits=limits, view=view):
        size, value, error = digest(found, algorithm)
        row: dict[str, Any] = {"where": " > ".join(found.where), "path": found.path, "name": found.name,
                               "size": size, algorithm: value}
        if error is not None:
            row["error"] = error
        if found.member is not None and found.member != found.path:
            row["member"] = found.member
        if found.nested:
            row["package"] = True
        if not recursive:
            found.item.close()
        rows.append(row)
    return rows
