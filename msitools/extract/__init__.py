"""Safe, streaming extraction of packages, patches and bare cabinets.

:func:`extract` writes the files the payload layer yields (:mod:`msitools.payload`,
:mod:`msitools.patch.payload`) under an output folder: paths checked component by
component (:mod:`msitools.base.fsutil`), each file written under a temporary name
and renamed into place only when complete and of the size the File table
declares; a damaged cabinet fails the files it affects and extraction goes on.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msitools.base.fsutil import AtomicWriter, OutputTree, check_component, read_magic, safe_component
from msitools.base.workers import SharedCounts, can_fork, run_shares, usable_cores
from msitools.container.cfb import CFB_MAGIC
from msitools.db.package import Package, open_package
from msitools.errors import HINT_TRANSFORM_REPORT, MsiToolsError, UnsafePathError, UsageError
from msitools.extract.output import ABSENT, SKIP, existing_state, prepare_output, remove_stale_parts
from msitools.extract.select import Selection
from msitools.findings import Finding, Level, dicts, texts
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.payload.files import PackageFile, list_package_files
from msitools.payload.items import KIND_DELTA, KIND_EMPTY
from msitools.payload.package import iter_package_payload

if TYPE_CHECKING:  # the patched view is needed only for type hints here
    pass

__all__ = ["CAB_MAGIC", "ExtractReport", "ExtractedFile", "extract", "member_parts"]

CAB_MAGIC = b"MSCF"
# what one share of the files gives back: written and failed files (by listing position), findings
ShareResult = tuple["list[tuple[int, ExtractedFile]]", "list[tuple[int, dict[str, str]]]", "list[Finding]"]


# -- extraction ----------------------------------------------------------------------------
@dataclass
class ExtractedFile:
    """One file written: its name in the package, where it went, its size and where it came from."""

    name: str  # the file's name in the package (path as shown, or member name)
    path: str  # where it was written
    size: int
    source: str


@dataclass
class ExtractReport:
    """What :func:`extract` wrote, what failed (each with its reason), what it noticed, and nested packages."""

    source: str
    output: str
    written: list[ExtractedFile] = field(default_factory=list)
    skipped: list[ExtractedFile] = field(default_factory=list)  # already there (--skip-existing)
    failures: list[dict[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    nested: list[ExtractReport] = field(default_factory=list)

    @property
    def issues(self) -> list[str]:
        """The findings as one-line texts."""
        return texts(self.findings)

    @property
    def ok(self) -> bool:
        return not self.failures and all(n.ok for n in self.nested)

    def all_failures(self) -> list[dict[str, str]]:
        out = list(self.failures)
        for n in self.nested:
            out.extend(n.all_failures())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "written": [vars(w) for w in self.written],
            "skipped": [vars(w) for w in self.skipped],
            "failures": self.failures,
            "issues": self.issues,
            "findings": dicts(self.findings),
            "nested": [n.to_dict() for n in self.nested],
        }


class _Destinations:
    """Output paths: safe, never reused, case-insensitive collisions disambiguated."""

    def __init__(self, root: Path, report: ExtractReport):
        self.tree = OutputTree(root)
        self.used: set[str] = set()
        self.report = report

    def name(self, parts: list[str], what: str) -> list[str]:
        """*parts*, or the first of its lessmsi-style ``.duplicateN`` names not handed out yet."""
        candidate = list(parts)
        n = 0
        while "/".join(candidate).lower() in self.used:
            n += 1  # lessmsi's scheme: name, name.duplicate1, name.duplicate2 ...
            candidate = parts[:-1] + [f"{parts[-1]}.duplicate{n}"]
        if n:
            self.report.findings.append(Finding(what, f"{'/'.join(parts)} is already taken (names collide, "
                                                      f"ignoring case); written as {candidate[-1]}"))
        self.used.add("/".join(candidate).lower())
        return candidate

    def claim(self, parts: list[str], what: str) -> str:
        return self.tree.file(self.name(parts, what))  # OutputTree.file checks every component


def _write(dest: str, chunks: Iterable[bytes], expected: int | None, force: bool, known_absent: bool = False,
           folder: str | None = None) -> int:
    with AtomicWriter(dest, expected_size=expected, force=force, known_absent=known_absent, folder=folder) as out:
        for chunk in chunks:
            out.write(chunk)
    return out.written


Progress = Callable[[str, int], None]  # (name of a file done, how many files in this container): once per file


@dataclass
class _Options:
    """How one extraction runs (shared by the package, patch and cabinet paths and by nested packages)."""

    flat: bool
    force: bool
    skip_existing: bool
    limits: Limits
    progress: Progress | None
    backend: str
    jobs: int | None
    selection: Selection


def extract(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, flat: bool = False,
            recursive: bool = False, force: bool = False, skip_existing: bool = False,
            select: Sequence[str] = (), patches=(), transforms=(),
            limits: Limits = DEFAULT_LIMITS, progress: Progress | None = None, backend: str = "auto",
            jobs: int | None = 1, _depth: int = 0) -> ExtractReport:
    """Extract a package (.msi/.msm, optionally patched), a patch (.msp) or a cabinet (.cab) under *out_dir*.

    *select*: names or shell patterns (see :mod:`msitools.extract.select`); only
    matching files are written, and a pattern that matches nothing raises
    UsageError before anything is written.  *force* replaces existing files;
    *skip_existing* leaves a file that is already there with the expected size
    (to resume an interrupted run) and fails one of another size.  The output
    folder is created and checked first (ExtractionError when it cannot be
    written); unfinished temporary files that an interrupted run left in it are
    removed.  Files of a damaged package are written when intact and named in
    ``failures`` with the reason when not; nothing damaged is left under a real name.

    *jobs*: how many processes write a package's files; more than one forks
    this process (Linux only; see :mod:`msitools.base.workers`), which a program
    running threads of its own should not ask for.  None: one per core, at
    most ``MAX_JOBS``, when the package is big enough to gain from it (what
    the command line does).  The default, 1, never forks.
    """
    if force and skip_existing:
        raise UsageError("choose one of force (replace existing files) and skip_existing (keep them)")
    path = os.fspath(path)
    out = Path(out_dir)
    magic = read_magic(path)
    if magic[:4] != CAB_MAGIC and magic != CFB_MAGIC and magic[:2] != b"MZ":
        raise UsageError("not a Windows Installer package, a cabinet or an executable container", path)
    existed = prepare_output(out)
    stale = remove_stale_parts(out) if existed else 0
    opts = _Options(flat, force, skip_existing, limits, progress, backend, jobs, Selection(select))
    try:
        if magic[:4] == CAB_MAGIC or magic[:2] == b"MZ":
            report = _extract_cabinet(path, out, opts)
        else:
            with open_package(path, limits) as pkg:
                if pkg.kind == "msp":
                    report = _extract_patch(pkg, out, opts)
                elif pkg.kind == "mst":
                    raise UsageError("a transform holds no files", path, HINT_TRANSFORM_REPORT)
                else:
                    report = _extract_msi(pkg, out, patches, transforms, opts)
    except KeyboardInterrupt:  # a signal between creating a temporary file and its cleanup: nothing stays
        remove_stale_parts(out)
        raise
    if stale:
        report.findings.insert(0, Finding(str(out), f"removed {stale} unfinished temporary file(s) left by an "
                                                    "interrupted run"))
    if recursive:
        _recurse(report, dataclasses.replace(opts, selection=Selection(())), _depth)
    return report


def _extract_msi(pkg: Package, out: Path, patches, transforms, opts: _Options) -> ExtractReport:
    report = ExtractReport(pkg.path, str(out))
    view = None
    if patches or transforms:
        from msitools.patch.msp import apply_patches_and_transforms  # loaded only when patching

        view = apply_patches_and_transforms(pkg, patches, transforms)
    try:
        _extract_listed(pkg, view, report, out, opts)
    finally:
        if view is not None:
            view.close()
    return report


def _keep(report: ExtractReport, opts: _Options, root: Path, parts: list[str], expected: int | None,
          name: str, source: str, extra: dict[str, str] | None = None) -> bool:
    """With --skip-existing: False (and the file noted as skipped or failed) when it must not be written."""
    if not opts.skip_existing:
        return True
    state = existing_state(root, parts, expected)
    if state == ABSENT:
        return True
    if state == SKIP:
        report.skipped.append(ExtractedFile(name, os.path.join(root, *parts), expected or 0, source))
    else:
        report.failures.append({"file": name, **(extra or {}), "error": state})
    return False


# a file costs as much as this many payload bytes (decoding, system calls, bookkeeping): used to
# split the files between workers, and to decide whether a package is worth more than one
FILE_WEIGHT = 8192
PARALLEL_MIN_WEIGHT = 4 << 20
MAX_JOBS = 4


def _extract_listed(pkg: Package, view, report: ExtractReport, out: Path, opts: _Options) -> None:
    """Write every listed (and selected) file; with several jobs, shares of the listing (see :func:`_split`)
    in forked workers.

    Output names are handed out first, in listing order, so they do not depend
    on which worker writes a file or on which files fail; the report lists
    files in listing order whatever the number of jobs.
    """
    listing = list_package_files(pkg, view)
    report.findings.extend(listing.findings)
    known_findings = len(listing.findings)
    dests = _Destinations(out, report)
    selection = opts.selection
    chosen_files = listing.files
    if selection:
        chosen_files = [f for f in listing.files
                        if selection.accepts((f.file_name, f.key, f.short_name), f.display_path)]
        selection.check_all_matched(pkg.path)
    names = {id(f): dests.name([f.file_name] if opts.flat else list(f.path), f.key) for f in chosen_files}
    todo = [f for f in chosen_files
            if _keep(report, opts, out, names[id(f)], f.size, f.display_path, "", {"key": f.key})]
    index = {id(f): i for i, f in enumerate(listing.files)}
    limits = pkg.limits
    shares = _split(todo, _job_count(todo, opts.jobs, limits)) if todo else []
    if len(shares) > 1:  # every worker decodes at most its own share of the total output limit
        limits = dataclasses.replace(limits, decompressed_total=limits.decompressed_total // len(shares))
    total = len(todo)
    counts = SharedCounts(len(shares))
    shown = [0]
    progress = opts.progress

    def pump(name: str) -> None:
        """Report the files every worker has finished since the last call (called by this process only)."""
        if progress is None:
            return
        done = counts.total()
        while shown[0] < done:
            shown[0] += 1
            progress(name, total)

    def share(files: list[PackageFile], slot: int) -> ShareResult:
        chosen = {id(f) for f in files}
        written: list[tuple[int, ExtractedFile]] = []
        failures: list[tuple[int, dict[str, str]]] = []
        place = dests.tree.place
        for item in iter_package_payload(pkg, view, listing, backend=opts.backend, limits=limits,
                                         only=lambda f: id(f) in chosen):
            f = item.file
            assert f is not None  # the package walk names the File row of every item
            at = index[id(f)]
            if item.error is not None or item.chunks is None:
                failures.append((at, {"file": f.display_path, "key": f.key, "error": item.error or "no bytes"}))
            else:
                try:
                    folder, dest, fresh = place(names[id(f)])
                    size = _write(dest, item.chunks, f.size, opts.force, fresh, folder)
                except MsiToolsError as exc:
                    failures.append((at, _failure(f.display_path, exc, key=f.key)))
                else:
                    written.append((at, ExtractedFile(f.display_path, dest, size, item.source)))
            counts.add(slot)
            if slot == 0:
                pump(f.display_path)
        return written, failures, listing.findings[known_findings:]

    results = run_shares([functools.partial(share, files, n) for n, files in enumerate(shares)],
                         waiting=lambda: pump(""))
    pump("")
    noted: dict[Finding, None] = {}  # a set split between workers has its anomalies noted by each
    written_all: list[tuple[int, ExtractedFile]] = []
    failures_all: list[tuple[int, dict[str, str]]] = []
    for written, failures, new_findings in results:
        written_all.extend(written)
        failures_all.extend(failures)
        noted.update(dict.fromkeys(new_findings))
    report.written.extend(item for _, item in sorted(written_all, key=lambda pair: pair[0]))
    report.failures.extend(item for _, item in sorted(failures_all, key=lambda pair: pair[0]))
    report.findings.extend(noted)


def _job_count(files: list[PackageFile], jobs: int | None, limits: Limits) -> int:
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


def _split(files: list[PackageFile], jobs: int) -> list[list[PackageFile]]:
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
    units: dict[int, list[int]] = {}  # medium -> positions of its files (None: uncompressed files)
    for at, f in enumerate(files):
        units.setdefault(id(f.media) if f.compressed else 0, []).append(at)
    unit_weight = {key: sum(weights[at] for at in ats) for key, ats in units.items()}
    if max(unit_weight.values()) * jobs <= total:
        loads = [0] * jobs
        chosen: list[list[int]] = [[] for _ in range(jobs)]
        for key in sorted(units, key=lambda k: -unit_weight[k]):
            lightest = loads.index(min(loads))
            chosen[lightest].extend(units[key])
            loads[lightest] += unit_weight[key]
        return [[files[at] for at in sorted(ats)] for ats in chosen if ats]
    shares: list[list[PackageFile]] = [[] for _ in range(jobs)]
    done = 0
    for f, w in zip(files, weights):
        shares[min(jobs - 1, done * jobs // total)].append(f)
        done += w
    return [share for share in shares if share]


def member_parts(name: str) -> tuple[list[str], str | None]:
    """Where a cabinet member lands (path components, each safe) and, when that differs from its name, why.

    Separators of either kind split the name; empty, ``.`` and ``..`` components are dropped
    (an absolute or climbing name stays inside the output folder, as cabextract does);
    a component that is no safe file name (a device name, control characters) is made one;
    a name that cleans down to nothing becomes ``unnamed``.
    """
    parts, changed = [], False
    for part in name.replace("\\", "/").split("/"):
        if part in ("", ".", ".."):
            changed = changed or part != ""
            continue
        safe = part
        try:
            check_component(part)
        except UnsafePathError:
            safe = safe_component(part)
            changed = True
        parts.append(safe)
    if not parts:
        return ["unnamed"], f"the name {name!r} holds no file name: written as 'unnamed'"
    if changed or name.startswith(("/", "\\")):
        return parts, f"the name {name!r} is not a safe relative path: written as {'/'.join(parts)!r}"
    return parts, None


def _extract_cabinet(path: str, out: Path, opts: _Options) -> ExtractReport:
    """A cabinet (and the rest of its set) or an executable container: its members under their names."""
    from msitools.payload.containers import open_members
    from msitools.payload.exe import KIND_PE

    report = ExtractReport(path, str(out))
    dests = _Destinations(out, report)
    with open_members(path, limits=opts.limits, backend=opts.backend) as walk:
        if walk.kind == KIND_PE:
            raise UsageError("a PE image with no container in it (no cabinet appended, no CABINET resource, "
                             "no Burn section): nothing to extract", path)
        names = [m.name for m in walk.members] if hasattr(walk, "members") else \
            [entry["name"] for entry in walk.listing()]
        selection = opts.selection
        if selection:
            for name in names:
                selection.accepts((name, name.replace("\\", "/").rsplit("/", 1)[-1]), name)
            selection.check_all_matched(path)
        total = sum(1 for n in names if not selection or selection.accepts((n, n.replace("\\", "/")
                                                                            .rsplit("/", 1)[-1]), n))
        for item in walk:
            shown = item.found_in[-1] if item.found_in else item.name
            if selection and not selection.accepts((shown, item.name), shown):
                continue
            if opts.progress:
                opts.progress(shown, total)
            if item.error is not None or item.chunks is None:
                report.failures.append({"file": shown, "error": item.error or "no bytes"})
                continue
            parts, note = member_parts(shown)
            if note:
                report.findings.append(Finding(shown, note))
            source = " > ".join([os.path.basename(path), *(item.found_in if walk.kind not in ("cab", "msu")
                                                             else [shown])])
            try:
                parts = dests.name(parts[-1:] if opts.flat else parts, shown)
                if not _keep(report, opts, out, parts, item.size, shown, source):
                    continue
                dest = dests.tree.file(parts)
                size = _write(dest, item.chunks, item.size, opts.force)
            except MsiToolsError as exc:
                report.failures.append(_failure(shown, exc))
                continue
            report.written.append(ExtractedFile(shown, str(dest), size, source))
        report.findings[:0] = walk.findings
        for finding in walk.findings:
            if finding.level == Level.ERROR:  # a container that could not be read
                report.failures.append({"file": finding.where, "error": finding.message})
    return report


def _failure(name: str, exc: MsiToolsError, **extra: str) -> dict[str, str]:
    """A failure entry: the file, the error, and the error's hint when it has one."""
    entry = {"file": name, **extra, "error": exc.message}
    if exc.hint:
        entry["hint"] = exc.hint
    return entry


def _extract_patch(pkg: Package, out: Path, opts: _Options) -> ExtractReport:
    from msitools.patch.msp import Msp
    from msitools.patch.payload import NOT_IN_CABINET, PatchPayload
    from msitools.patch.report import cabinet_members

    report = ExtractReport(pkg.path, str(out))
    msp = Msp(pkg)
    report.findings.extend(Finding("", issue) for issue in msp.issues)
    selection = opts.selection
    if selection:  # every pattern must match a member or a patched file before anything is written
        from msitools.db.directory import long_file_name

        members, _issues, _by_key = cabinet_members(msp)
        rows = msp.file_rows("")[0]
        for name in [m.get("name") for m in members] + list(rows) + [
                long_file_name(row.values["FileName"]) for row in rows.values() if row.values.get("FileName")]:
            selection.accepts((name,))
        selection.check_all_matched(pkg.path)
    dests = _Destinations(out, report)
    walk = PatchPayload(msp, backend=opts.backend)
    for item in walk:
        label = item.member.name if item.member is not None else item.key or item.name
        if selection and not selection.accepts((item.name, label, item.key)):
            continue
        if opts.progress:
            opts.progress(item.name, max(len(walk.rows), 1))
        if item.kind == KIND_EMPTY:
            report.findings.append(Finding(item.source, "empty member with no File row (a placeholder): not written"))
            continue
        if item.error == NOT_IN_CABINET:
            report.findings.append(Finding(item.source, f"{item.name}: {item.error}"))
            continue
        if item.error is not None or item.member is None:
            report.failures.append({"file": label, "error": item.error or "no bytes"})
            continue
        try:
            dest, size = _write_patch_item(item, dests, opts, report)
        except MsiToolsError as exc:
            report.failures.append(_failure(label, exc))
            continue
        if dest:
            report.written.append(ExtractedFile(label, dest, size, item.source))
    for finding in walk.findings:
        report.findings.append(finding)
        if finding.level == Level.ERROR:  # a patch cabinet that could not be read
            report.failures.append({"file": finding.where, "error": finding.message})
    return report


def _item_chunks(item: Any) -> Iterator[bytes]:
    if item.chunks is not None:
        return item.chunks
    return item.spool().chunks()


def _write_patch_item(item: Any, dests: _Destinations, opts: _Options, report: ExtractReport) -> tuple[str, int]:
    """Write one patch member under its name (a delta as ``NAME.delta`` with its header beside it);
    ``("", 0)`` when --skip-existing keeps what is there."""
    what = item.member.name
    delta = item.kind == KIND_DELTA
    parts = dests.name([item.name + ".delta" if delta else item.name], what)
    if not _keep(report, opts, Path(dests.tree.root), parts, item.size, what, item.source):
        return "", 0
    dest = dests.tree.file(parts)
    size = _write(dest, _item_chunks(item), item.size, opts.force)
    if delta:
        stream = item.found_in[0]
        summary = dests.claim([item.name + ".delta.json"], what)
        payload = json.dumps({"member": what, "file": item.name, "cabinet": stream, "header": item.delta},
                             indent=2).encode()
        _write(summary, iter([payload]), len(payload), opts.force or opts.skip_existing)
    return dest, size


def _is_container(path: str) -> bool:
    """An executable that holds a cabinet (not a plain image)."""
    from msitools.payload.exe import KIND_PE, ExePayload

    try:
        with ExePayload(path) as walk:
            return walk.kind != KIND_PE
    except MsiToolsError:
        return False


def _recurse(report: ExtractReport, opts: _Options, depth: int) -> None:
    for written in list(report.written):
        try:
            with open(written.path, "rb") as fh:
                magic = fh.read(8)
        except OSError:
            continue
        if magic[:4] != CAB_MAGIC and magic != CFB_MAGIC and not (magic[:2] == b"MZ" and _is_container(written.path)):
            continue
        if depth + 1 > opts.limits.package_nesting_depth:
            report.findings.append(Finding(written.name, f"not opened, nesting depth limit "
                                                         f"({opts.limits.package_nesting_depth}) reached"))
            continue
        target = Path(written.path + ".extracted")
        try:
            nested = extract(written.path, target, flat=opts.flat, recursive=True, force=opts.force,
                             skip_existing=opts.skip_existing, limits=opts.limits, progress=opts.progress,
                             backend=opts.backend, jobs=opts.jobs, _depth=depth + 1)
        except MsiToolsError as exc:
            report.failures.append({"file": written.name, "error": f"nested package: {exc.message}"})
            continue
        report.nested.append(nested)
