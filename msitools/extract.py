"""Payload access and safe, streaming extraction of packages, patches and bare cabinets.

:func:`iter_payload` yields every file of a package with a chunk iterator over
its bytes (decoded block by block from its cabinet, or read from the source
tree beside the package): the verifier and the extractor share it.
:func:`extract` writes files under an output folder: paths checked component by
component (:mod:`msitools.base.fsutil`), each file written under a temporary name
and renamed into place only when complete and of the size the File table
declares; a damaged cabinet fails the files it affects and extraction goes on.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from msitools.cab import Cabinet, CabinetSet, directory_resolver
from msitools.container.cfb import CFB_MAGIC
from msitools.db.directory import long_file_name
from msitools.errors import ExtractionError, LimitExceeded, MsiToolsError, UnsafePathError, UsageError
from msitools.payload.files import FileListing, MediaInfo, PackageFile, SourceTree, list_package_files
from msitools.base.fsutil import AtomicWriter, OutputTree, check_component, safe_join
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.db.package import Package, open_package
from msitools.base.workers import can_fork, run_shares, usable_cores

if TYPE_CHECKING:  # the patched view is needed only for type hints here
    from msitools.db.patched import PatchedDatabase

CAB_MAGIC = b"MSCF"
CHUNK = 1 << 20


@dataclass
class PayloadItem:
    """One payload file: where it comes from and its bytes (or why they cannot be read)."""

    file: PackageFile
    source: str  # e.g. "putty-0.68-installer.msi > putty.cab > PuTTY_File"
    chunks: "Iterator[bytes] | None"
    error: "str | None" = None
    member_size: "int | None" = None
    member_time: Any = None


def _package_dir(pkg: Package) -> str:
    return os.path.dirname(os.path.abspath(pkg.path))


def _find_beside(directory: str, name: str) -> "str | None":
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


class _CabinetOpener:
    """Opens the cabinet of a Media row (embedded stream or file beside the package) and its set."""

    def __init__(self, pkg: Package, media: "list[MediaInfo]", limits: Limits):
        self.pkg = pkg
        self.media = media
        self.limits = limits
        self.directory = _package_dir(pkg)

    def _open(self, medium: "MediaInfo | None", name: str):
        if medium is not None and medium.embedded:
            origin = medium.origin
            info = origin.find_stream(name)
            if info is None:
                raise ExtractionError(f"cabinet stream {name!r} named by Media row {medium.disk_id} is not in "
                                      f"{os.path.basename(origin.path)}")
            return origin.open_stream(name), medium.describe()
        path = _find_beside(self.directory, name)
        if path is None:
            raise ExtractionError(f"external cabinet {name!r} not found beside {os.path.basename(self.pkg.path)}")
        return open(path, "rb"), name

    def resolver(self, name: str):
        for medium in self.media:
            if medium.cabinet_name and medium.cabinet_name.lower() == name.lower():
                fileobj, _ = self._open(medium, medium.cabinet_name)
                return fileobj
        found = _find_beside(self.directory, name)
        return open(found, "rb") if found else None

    def open_set(self, medium: MediaInfo) -> "tuple[CabinetSet, list]":
        fileobj, display = self._open(medium, medium.cabinet_name or "")
        try:
            cab = Cabinet.open(fileobj, display, limits=self.limits)
            cabset = CabinetSet(cab, resolver=self.resolver, limits=self.limits)
        except BaseException:
            fileobj.close()
            raise
        return cabset, [fileobj]


def _read_file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                return
            yield block


def iter_payload(pkg: Package, view: "PatchedDatabase | None" = None, listing: "FileListing | None" = None,
                 backend: str = "auto", limits: "Limits | None" = None,
                 only: "Callable[[PackageFile], bool] | None" = None) -> Iterator[PayloadItem]:
    """Every file of the (patched) package with its bytes, cabinet by cabinet, in sequence order.

    The chunk iterator of an item must be consumed (or dropped) before the next
    item is requested.  Files that cannot be read come with ``error`` set.
    *only*: yield just the files it accepts (cabinet sets are still opened from
    their first cabinet, so a file continued across cabinets is found the same
    way; folders holding none of the accepted files are not decoded).
    """
    limits = limits or pkg.limits
    listing = listing or list_package_files(pkg, view)
    opener = _CabinetOpener(pkg, listing.media, limits)
    base_name = os.path.basename(pkg.path)
    pending = [f for f in listing.files if only is None or only(f)]
    compressed: dict[int, list[PackageFile]] = {}  # every compressed file, by medium: where sets start
    for f in listing.files:
        if f.compressed and f.media is not None:
            compressed.setdefault(id(f.media), []).append(f)
    accepted = {id(f) for f in pending}
    consumed: set[str] = set()
    done: set[str] = set()
    for medium in listing.media:
        wanted = compressed.get(id(medium))
        if not wanted or (medium.cabinet_name or "").lower() in consumed:
            continue
        try:
            cabset, handles = opener.open_set(medium)
        except MsiToolsError as exc:
            for f in wanted:
                if id(f) not in accepted:
                    continue
                done.add(f.key)
                yield PayloadItem(f, f"{medium.describe()}", None, exc.message if isinstance(exc, MsiToolsError)
                                  else str(exc))
            continue
        try:
            # the package holding an embedded cabinet (a patch's cabinet lives in the patch)
            holder = os.path.basename(medium.origin.path) if medium.embedded else base_name
            set_names = {c.name.rsplit(" > ", 1)[-1].lower() for c in cabset.cabinets}
            consumed |= set_names
            in_set = [f for m in listing.media if (m.cabinet_name or "").lower() in set_names
                      for f in compressed.get(id(m), []) if id(f) in accepted]
            for note in cabset.anomalies:
                listing.issues.append(f"{medium.describe()}: {note}")
            if not in_set:
                continue  # none of this set's files is wanted: not a block of it is decoded
            by_key = {f.key: f for f in in_set}
            by_lower = {}
            for f in in_set:
                by_lower.setdefault(f.key.lower(), f)

            def pick(member) -> bool:
                f = by_key.get(member.name) or by_lower.get(member.name.lower())
                return f is not None and f.key not in done

            prefixes: "dict[str, str]" = {}
            for member, chunks in cabset.iter_members(pick, backend=backend):
                f = by_key.get(member.name) or by_lower.get(member.name.lower())
                if f is None or f.key in done:
                    continue
                done.add(f.key)
                prefix = prefixes.get(member.cabinet)
                if prefix is None:
                    prefix = prefixes[member.cabinet] = f"{holder} > {member.cabinet.rsplit(' > ', 1)[-1]} > "
                yield PayloadItem(f, prefix + member.name, chunks, None, member.size, member.date_time)
        except MsiToolsError as exc:
            for f in in_set if "in_set" in locals() else wanted:
                if f.key not in done and id(f) in accepted:
                    done.add(f.key)
                    yield PayloadItem(f, medium.describe(), None, str(exc))
        finally:
            cabset.close()
            for h in handles:
                h.close()
    source_tree: "SourceTree | None" = None
    for f in pending:
        if f.key in done:
            continue
        if f.compressed:
            where = f.media.describe() if f.media else "no Media row"
            yield PayloadItem(f, where, None, f"not found in cabinet ({where})")
            continue
        if source_tree is None:
            source_tree = SourceTree(pkg, view)
        rel = source_tree.path(f)
        try:
            path = safe_join(_package_dir(pkg), rel)
        except UnsafePathError as exc:
            yield PayloadItem(f, "source tree", None, exc.message)
            continue
        if not path.is_file():
            yield PayloadItem(f, "source tree", None, f"uncompressed file not found at {'/'.join(rel)} beside the "
                                                       "package")
            continue
        yield PayloadItem(f, f"{base_name} (source) > {'/'.join(rel)}", _read_file_chunks(str(path)), None,
                          path.stat().st_size)


# -- extraction ----------------------------------------------------------------------------
@dataclass
class ExtractedFile:
    name: str  # the file's name in the package (path as shown, or member name)
    path: str  # where it was written
    size: int
    source: str


@dataclass
class ExtractReport:
    source: str
    output: str
    written: "list[ExtractedFile]" = field(default_factory=list)
    failures: "list[dict[str, str]]" = field(default_factory=list)
    issues: "list[str]" = field(default_factory=list)
    nested: "list[ExtractReport]" = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and all(n.ok for n in self.nested)

    def all_failures(self) -> "list[dict[str, str]]":
        out = list(self.failures)
        for n in self.nested:
            out.extend(n.all_failures())
        return out

    def to_dict(self) -> "dict[str, Any]":
        return {
            "source": self.source,
            "output": self.output,
            "written": [vars(w) for w in self.written],
            "failures": self.failures,
            "issues": self.issues,
            "nested": [n.to_dict() for n in self.nested],
        }


class _Destinations:
    """Output paths: safe, never reused, case-insensitive collisions disambiguated."""

    def __init__(self, root: Path, report: ExtractReport):
        self.tree = OutputTree(root)
        self.used: set[str] = set()
        self.report = report

    def name(self, parts: "list[str]", what: str) -> "list[str]":
        """*parts*, or the first of its lessmsi-style ``.duplicateN`` names not handed out yet."""
        candidate = list(parts)
        n = 0
        while "/".join(candidate).lower() in self.used:
            n += 1  # lessmsi's scheme: name, name.duplicate1, name.duplicate2 ...
            candidate = parts[:-1] + [f"{parts[-1]}.duplicate{n}"]
        if n:
            self.report.issues.append(f"{what}: {'/'.join(parts)} is already taken (names collide, ignoring "
                                      f"case); written as {candidate[-1]}")
        self.used.add("/".join(candidate).lower())
        return candidate

    def claim(self, parts: "list[str]", what: str) -> str:
        return self.tree.file(self.name(parts, what))  # OutputTree.file checks every component


def _write(dest: str, chunks, expected: "int | None", force: bool, known_absent: bool = False,
           folder: "str | None" = None) -> int:
    with AtomicWriter(dest, expected_size=expected, force=force, known_absent=known_absent, folder=folder) as out:
        for chunk in chunks:
            out.write(chunk)
    return out.written


Progress = Callable[[str, int], None]  # (name of the file being written, how many files in this container)


def extract(path: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]", *, flat: bool = False,
            recursive: bool = False, force: bool = False, patches=(), transforms=(),
            limits: Limits = DEFAULT_LIMITS, progress: "Progress | None" = None, backend: str = "auto",
            jobs: "int | None" = 1, _depth: int = 0) -> ExtractReport:
    """Extract a package (.msi/.msm, optionally patched), a patch (.msp) or a cabinet (.cab) under *out_dir*.

    *jobs*: how many processes write a package's files; more than one forks
    this process (Linux only; see :mod:`msitools.base.workers`), which a program
    running threads of its own should not ask for.  None: one per core, at
    most ``MAX_JOBS``, when the package is big enough to gain from it (what
    the command line does).  The default, 1, never forks.
    """
    path = os.fspath(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic[:4] == CAB_MAGIC:
        report = _extract_cabinet(path, out, flat, force, limits, progress, backend)
    elif magic == CFB_MAGIC:
        with open_package(path, limits) as pkg:
            if pkg.kind == "msp":
                report = _extract_patch(pkg, out, force, progress, backend)
            elif pkg.kind == "mst":
                raise UsageError("a transform holds no files; use `msitools transform`", path)
            else:
                report = _extract_msi(pkg, out, flat, force, patches, transforms, progress, backend, jobs)
    else:
        raise UsageError("not a Windows Installer package or a cabinet", path)
    if recursive:
        _recurse(report, flat, force, limits, progress, backend, jobs, _depth)
    return report


def _extract_msi(pkg: Package, out: Path, flat: bool, force: bool, patches, transforms,
                 progress, backend: str, jobs: "int | None") -> ExtractReport:
    report = ExtractReport(pkg.path, str(out))
    view = None
    if patches or transforms:
        from msitools.patch.msp import apply_patches_and_transforms

        view = apply_patches_and_transforms(pkg, patches, transforms)
    try:
        _extract_listed(pkg, view, report, out, flat, force, progress, backend, jobs)
    finally:
        if view is not None:
            view.close()
    return report


# a file costs as much as this many payload bytes (decoding, system calls, bookkeeping): used to
# split the files between workers, and to decide whether a package is worth more than one
FILE_WEIGHT = 8192
PARALLEL_MIN_WEIGHT = 4 << 20
MAX_JOBS = 4


def _extract_listed(pkg: Package, view, report: ExtractReport, out: Path, flat: bool, force: bool, progress,
                    backend: str, jobs: "int | None" = None) -> None:
    """Write every listed file; with several jobs, shares of the listing (see :func:`_split`) in forked workers.

    Output names are handed out first, in listing order, so they do not depend
    on which worker writes a file or on which files fail; the report lists
    files in listing order whatever the number of jobs.
    """
    listing = list_package_files(pkg, view)
    report.issues.extend(listing.issues)
    known_issues = len(listing.issues)
    dests = _Destinations(out, report)
    names = {id(f): dests.name([f.file_name] if flat else list(f.path), f.key) for f in listing.files}
    index = {id(f): i for i, f in enumerate(listing.files)}
    limits = pkg.limits
    shares = _split(listing.files, _job_count(listing.files, jobs, limits))
    if len(shares) > 1:  # every worker decodes at most its own share of the total output limit
        limits = dataclasses.replace(limits, decompressed_total=limits.decompressed_total // len(shares))
    total = len(listing.files)

    def share(files: "list[PackageFile] | None", report_progress: bool):
        chosen = None if files is None else {id(f) for f in files}
        written, failures = [], []
        only = None if chosen is None else (lambda f: id(f) in chosen)
        place = dests.tree.place
        for item in iter_payload(pkg, view, listing, backend=backend, limits=limits, only=only):
            f = item.file
            if report_progress and progress:
                progress(f.display_path, total)
            at = index[id(f)]
            if item.error is not None:
                failures.append((at, {"file": f.display_path, "key": f.key, "error": item.error}))
                continue
            try:
                folder, dest, fresh = place(names[id(f)])
                size = _write(dest, item.chunks, f.size, force, fresh, folder)
            except MsiToolsError as exc:
                failures.append((at, {"file": f.display_path, "key": f.key, "error": exc.message}))
                continue
            written.append((at, ExtractedFile(f.display_path, dest, size, item.source)))
        return written, failures, listing.issues[known_issues:]

    if len(shares) == 1:
        results = [share(None, True)]
    else:
        results = run_shares([lambda files=files, first=not n: share(files, first)
                              for n, files in enumerate(shares)])
    issues: "dict[str, None]" = {}  # a set split between workers has its anomalies noted by each
    written_all, failures_all = [], []
    for n, (written, failures, new_issues) in enumerate(results):
        if n and progress:
            for _, item in written:
                progress(item.name, total)
        written_all.extend(written)
        failures_all.extend(failures)
        issues.update(dict.fromkeys(new_issues))
    report.written.extend(item for _, item in sorted(written_all, key=lambda pair: pair[0]))
    report.failures.extend(item for _, item in sorted(failures_all, key=lambda pair: pair[0]))
    report.issues.extend(issues)


def _job_count(files: "list[PackageFile]", jobs: "int | None", limits: Limits) -> int:
    """How many workers: *jobs* if given, else one per core (at most MAX_JOBS) for a package big enough."""
    if jobs is None:
        weight = sum(FILE_WEIGHT + (f.size or 0) for f in files)
        if weight < PARALLEL_MIN_WEIGHT or not can_fork():
            return 1
        jobs = min(usable_cores(), MAX_JOBS)
    jobs = max(1, min(jobs, len(files)))
    declared = sum(f.size or 0 for f in files)
    while jobs > 1 and declared > limits.decompressed_total // jobs:
        jobs -= 1  # each worker gets 1/jobs of the output limit: never split a package that needs more
    return jobs


def _split(files: "list[PackageFile]", jobs: int) -> "list[list[PackageFile]]":
    """*files* (in sequence order) in *jobs* shares of about equal weight.

    Whole cabinets go to one share each, the heaviest first to the lightest
    share, so no cabinet is decoded twice; when one cabinet outweighs a fair
    share (one big cabinet of many files), the listing is cut into contiguous
    runs instead, and only the folder at each cut is decoded by two workers.
    """
    if jobs <= 1:
        return [list(files)]
    weights = [FILE_WEIGHT + (f.size or 0) for f in files]
    total = sum(weights)
    units: "dict[int, list[int]]" = {}  # medium -> positions of its files (None: uncompressed files)
    for at, f in enumerate(files):
        units.setdefault(id(f.media) if f.compressed else 0, []).append(at)
    unit_weight = {key: sum(weights[at] for at in ats) for key, ats in units.items()}
    if max(unit_weight.values()) * jobs <= total:
        loads = [0] * jobs
        chosen: "list[list[int]]" = [[] for _ in range(jobs)]
        for key in sorted(units, key=lambda k: -unit_weight[k]):
            lightest = loads.index(min(loads))
            chosen[lightest].extend(units[key])
            loads[lightest] += unit_weight[key]
        return [[files[at] for at in sorted(ats)] for ats in chosen if ats]
    shares: "list[list[PackageFile]]" = [[] for _ in range(jobs)]
    done = 0
    for f, w in zip(files, weights):
        shares[min(jobs - 1, done * jobs // total)].append(f)
        done += w
    return [share for share in shares if share]


def _extract_cabinet(path: str, out: Path, flat: bool, force: bool, limits: Limits, progress,
                     backend: str) -> ExtractReport:
    report = ExtractReport(path, str(out))
    dests = _Destinations(out, report)
    with Cabinet.from_path(path, limits=limits) as cab:
        with CabinetSet(cab, resolver=directory_resolver(os.path.dirname(os.path.abspath(path))),
                        limits=limits) as cabset:
            report.issues.extend(cab.anomalies + cabset.anomalies)
            members = cabset.list_members()
            seen: set[int] = set()
            try:
                for member, chunks in cabset.iter_members(backend=backend):
                    seen.add(id(member))
                    if progress:
                        progress(member.name, len(members))
                    parts = [p for p in member.name.replace("/", "\\").split("\\") if p not in ("",)]
                    if flat:
                        parts = parts[-1:]
                    try:
                        dest = dests.claim(parts, member.name)
                        size = _write(dest, chunks, member.size, force)
                    except MsiToolsError as exc:
                        report.failures.append({"file": member.name, "error": exc.message})
                        continue
                    report.written.append(ExtractedFile(member.name, str(dest), size,
                                                        f"{os.path.basename(path)} > {member.name}"))
            except MsiToolsError as exc:
                for member in members:
                    if id(member) not in seen:
                        report.failures.append({"file": member.name, "error": exc.message})
    return report


def _extract_patch(pkg: Package, out: Path, force: bool, progress, backend: str) -> ExtractReport:
    import json

    from msitools.patch.delta import is_delta, parse_delta
    from msitools.patch.msp import Msp

    report = ExtractReport(pkg.path, str(out))
    msp = Msp(pkg)
    report.issues.extend(msp.issues)
    names: dict[str, str] = {}
    for t in msp.transforms:
        for change in t.changes():
            if change.table == "File":
                for rc in change.rows:
                    if rc.values.get("FileName"):
                        names[rc.key[0]] = long_file_name(rc.values["FileName"])
    dests = _Destinations(out, report)
    for stream in msp.cabinet_streams():
        try:
            cab = msp.open_cabinet(stream)
        except MsiToolsError as exc:
            report.failures.append({"file": stream, "error": str(exc)})
            continue
        with cab:
            try:
                for member, chunks in cab.iter_members(backend=backend):
                    if progress:
                        progress(member.name, len(cab.list_members()))
                    name = names.get(member.name, member.name)
                    try:
                        first = next(chunks, b"")
                        rest = chunks

                        def joined(first=first, rest=rest):
                            if first:
                                yield first
                            yield from rest

                        if is_delta(first):
                            dest = dests.claim([name + ".delta"], member.name)
                            size = _write(dest, joined(), member.size, force)
                            try:
                                header = parse_delta(first, f"{stream} > {member.name}").to_dict()
                            except MsiToolsError as exc:
                                header = {"error": exc.message}
                            summary = dests.claim([name + ".delta.json"], member.name)
                            payload = json.dumps({"member": member.name, "file": name, "cabinet": stream,
                                                  "header": header}, indent=2).encode()
                            _write(summary, iter([payload]), len(payload), force)
                        else:
                            dest = dests.claim([name], member.name)
                            size = _write(dest, joined(), member.size, force)
                    except MsiToolsError as exc:
                        report.failures.append({"file": member.name, "error": exc.message})
                        continue
                    report.written.append(ExtractedFile(member.name, str(dest), size,
                                                        f"{os.path.basename(pkg.path)} > {stream} > {member.name}"))
            except MsiToolsError as exc:
                report.failures.append({"file": stream, "error": str(exc)})
    return report


def _recurse(report: ExtractReport, flat: bool, force: bool, limits: Limits, progress, backend: str,
             jobs: "int | None", depth: int) -> None:
    for written in list(report.written):
        try:
            with open(written.path, "rb") as fh:
                magic = fh.read(8)
        except OSError:
            continue
        if magic[:4] != CAB_MAGIC and magic != CFB_MAGIC:
            continue
        if depth + 1 > limits.package_nesting_depth:
            report.issues.append(f"{written.name}: not opened, nesting depth limit "
                                 f"({limits.package_nesting_depth}) reached")
            continue
        target = Path(written.path + ".extracted")
        try:
            nested = extract(written.path, target, flat=flat, recursive=True, force=force, limits=limits,
                             progress=progress, backend=backend, jobs=jobs, _depth=depth + 1)
        except (MsiToolsError, LimitExceeded) as exc:
            report.failures.append({"file": written.name, "error": f"nested package: {exc.message}"})
            continue
        report.nested.append(nested)
