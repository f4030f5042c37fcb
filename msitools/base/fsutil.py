"""Safe output: names from untrusted packages never escape the output folder.

* :func:`safe_component` rejects or neutralises one path component
  (``..``, separators, drive letters, NUL/control characters, reserved
  device names such as ``CON`` or ``NUL``, over-long names);
* :func:`safe_join` joins components under a root and refuses to pass
  through a symlink or leave the root;
* :class:`AtomicWriter` writes to a temporary name in the destination folder
  and renames into place only when complete (and, if asked, only when the
  size matches), so a failure never leaves a truncated file that looks whole.
"""
from __future__ import annotations

import functools
import itertools
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from msitools.errors import HINT_OVERWRITE, ExtractionError, UnsafePathError, UsageError

_SERIAL = itertools.count()
RESERVED_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}
MAX_COMPONENT_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


@functools.lru_cache(maxsize=4096)
def _component_problem(name: str) -> str | None:
    try:
        _check_component(name)
    except UnsafePathError as exc:
        return exc.message
    return None


def check_component(name: str) -> str:
    """Return *name* if it is a safe single path component, else raise UnsafePathError."""
    problem = _component_problem(name)
    if problem is not None:
        raise UnsafePathError(problem)
    return name


def _check_component(name: str) -> str:
    if name in ("", ".", ".."):
        raise UnsafePathError(f"unsafe name {name!r}")
    if "/" in name or "\\" in name:
        raise UnsafePathError(f"name {name!r} contains a path separator")
    if _DRIVE.match(name):
        raise UnsafePathError(f"name {name!r} starts with a drive letter")
    if _CONTROL.search(name):
        raise UnsafePathError(f"name {name!r} contains control characters")
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in RESERVED_DEVICE_NAMES:
        raise UnsafePathError(f"name {name!r} is a reserved device name")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
        raise UnsafePathError(f"name {name[:40]!r}... is longer than {MAX_COMPONENT_BYTES} bytes")
    return name


def safe_component(name: str) -> str:
    """A file-system-safe version of *name* (for names we invent, e.g. stream dumps).

    Unlike :func:`check_component` this never fails: control characters and
    separators become ``_``, reserved names get a ``_`` suffix.
    """
    name = _CONTROL.sub("", name).replace("/", "_").replace("\\", "_")
    name = _DRIVE.sub(lambda m: m.group(0)[0] + "_", name)
    if name in ("", ".", ".."):
        name = "_" + name
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in RESERVED_DEVICE_NAMES:
        name = "_" + name
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_COMPONENT_BYTES:
        name = encoded[:MAX_COMPONENT_BYTES - 8].decode("utf-8", "ignore") + "~trunc"
    return name


def safe_join(root: str | os.PathLike[str], parts: Iterable[str]) -> Path:
    """Join checked components under *root*; refuse symlinks and anything that leaves root."""
    root_path = Path(root)
    real_root = Path(os.path.realpath(root_path))
    path = root_path
    for part in parts:
        check_component(part)
        path = path / part
        if path.is_symlink():
            raise UnsafePathError(f"refusing to write through the symlink {path}")
    real = Path(os.path.realpath(path))
    if real != real_root and real_root not in real.parents:
        raise UnsafePathError(f"path {path} resolves outside the output folder")
    return path


class OutputTree:
    """Creates folders under one root and hands out checked destination paths, quickly.

    Each component is checked with :func:`check_component`; a folder is
    verified once (it must be a real directory, not a symlink, and we create it
    ourselves when missing) and remembered, so extracting 20,000 files into 100
    folders costs 100 folder checks, not 20,000 ``realpath`` calls.
    """

    def __init__(self, root: str | os.PathLike[str]):
        os.makedirs(root, exist_ok=True)
        if os.path.islink(root):
            raise UnsafePathError(f"the output folder {root} is a symlink")
        self.root = os.path.realpath(root)
        self._verified = {self.root}
        self._dirs: dict[tuple, str] = {}
        self.fresh: set[str] = set()  # folders this tree created: nothing else can be in them

    def directory(self, parts: list[str]) -> str:
        key = tuple(parts)
        known = self._dirs.get(key)
        if known is not None:
            return known
        path = self.root
        for part in parts:
            check_component(part)
            child = os.path.join(path, part)
            if child not in self._verified:
                try:
                    st = os.lstat(child)
                except FileNotFoundError:
                    try:
                        os.mkdir(child)
                    except FileExistsError:  # made meanwhile (by another extraction worker): check it
                        st = os.lstat(child)
                    except OSError as exc:
                        raise ExtractionError(f"cannot create the folder {child}: {exc.strerror or exc}") from None
                    else:
                        st = None
                        self.fresh.add(child)
                if st is not None:
                    if stat.S_ISLNK(st.st_mode):
                        raise UnsafePathError(f"refusing to write through the symlink {child}")
                    if not stat.S_ISDIR(st.st_mode):
                        raise ExtractionError(f"{child} exists and is not a folder")
                self._verified.add(child)
            path = child
        self._dirs[key] = path
        return path

    def file(self, parts: list[str]) -> str:
        """The path of a file to write at ``root/parts...`` (folders created and checked)."""
        return self.place(parts)[1]

    def place(self, parts: list[str]) -> tuple[str, str, bool]:
        """``(folder, path, fresh)`` of a file at ``root/parts...``: *fresh* when this tree made the folder."""
        if not parts:
            raise UnsafePathError("empty file name")
        name = check_component(parts[-1])
        folder = self.directory(parts[:-1])
        return folder, folder + os.sep + name, folder in self.fresh


class AtomicWriter:
    """Context manager: write a file under a temporary name, rename into place on success.

    ``expected_size``: the rename happens only when exactly that many bytes
    were written; otherwise the temporary file is removed and ExtractionError
    raised.  ``force``: replace an existing destination (never a directory or
    a symlink).
    """

    def __init__(self, dest: str | os.PathLike[str], expected_size: int | None = None, force: bool = False,
                 known_absent: bool = False, folder: str | None = None):
        self.dest = os.fspath(dest)
        self.folder = os.path.dirname(self.dest) if folder is None else folder  # where the temporary file goes
        self.known_absent = known_absent  # the caller made the folder itself and never wrote this name
        self.expected_size = expected_size
        self.force = force
        self.written = 0
        self._fd: int | None = None
        self._tmp: str | None = None

    def __enter__(self) -> AtomicWriter:
        dest = self.dest
        try:
            st = None if self.known_absent else os.lstat(dest)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat.S_ISLNK(st.st_mode):
                raise UnsafePathError(f"refusing to write through the symlink {dest}")
            if stat.S_ISDIR(st.st_mode):
                raise ExtractionError(f"{dest} exists and is a directory")
            if not self.force:
                raise ExtractionError(f"{dest} already exists", hint=HINT_OVERWRITE)
        self._tmp = f"{self.folder}{os.sep}.msitools-{os.getpid()}-{next(_SERIAL)}.part"
        # a raw descriptor: no buffering layer, no tty probe, one write() per chunk
        try:
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                               0o644)
        except OSError as exc:
            raise ExtractionError(f"cannot create {dest}: {exc.strerror or exc}") from None
        return self

    def write(self, data: bytes) -> None:
        if self.expected_size is not None and self.written + len(data) > self.expected_size:
            # stop at once: a member larger than declared is never written out in full
            raise ExtractionError(f"{os.path.basename(self.dest)}: more than the {self.expected_size} bytes "
                                  "declared; file not kept")
        fd = self._fd
        assert fd is not None, "AtomicWriter.write() outside its with block"
        try:
            done = os.write(fd, data)
            if done != len(data):  # a short write (a signal, a full pipe): write the rest
                view = memoryview(data)[done:]
                while view:
                    view = view[os.write(fd, view):]
        except OSError as exc:  # a full disk, a quota: this file fails, the temporary one is removed
            raise ExtractionError(f"cannot write {self.dest}: {exc.strerror or exc}") from None
        self.written += len(data)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._fd is not None and self._tmp is not None
        failure: ExtractionError | None = None
        try:
            os.close(self._fd)
        except OSError as error:  # data that could not be stored after all (NFS, quotas)
            failure = ExtractionError(f"cannot write {self.dest}: {error.strerror or error}")
        self._fd = None
        if exc_type is not None or failure is not None:
            os.unlink(self._tmp)
            if exc_type is None and failure is not None:
                raise failure
            return
        if self.expected_size is not None and self.written != self.expected_size:
            os.unlink(self._tmp)
            raise ExtractionError(
                f"{os.path.basename(self.dest)}: wrote {self.written} bytes, expected {self.expected_size}; "
                "file not kept")
        try:
            os.replace(self._tmp, self.dest)
        except OSError as error:
            os.unlink(self._tmp)
            raise ExtractionError(f"cannot rename into {self.dest}: {error.strerror or error}") from None


def write_file(dest: str | os.PathLike[str], data: bytes | Iterable[bytes], expected_size: int | None = None,
               force: bool = False) -> int:
    with AtomicWriter(dest, expected_size, force) as out:
        if isinstance(data, (bytes, bytearray, memoryview)):
            out.write(bytes(data))
        else:
            for chunk in data:
                out.write(chunk)
    return out.written


def read_magic(path: str | os.PathLike[str], size: int = 8) -> bytes:
    """The first *size* bytes of a file (UsageError naming it when it cannot be opened)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise UsageError(f"cannot open: {exc.strerror or exc}", os.fspath(path)) from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks (OSError when it cannot be read)."""
    import hashlib

    digest = hashlib.sha256()
    for block in read_file_chunks(path):
        digest.update(block)
    return digest.hexdigest()


def read_file_chunks(path: str | os.PathLike[str], size: int = 1 << 20) -> Iterator[bytes]:
    """A file's bytes in chunks of *size* (the file is closed when exhausted or dropped)."""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(size)
            if not block:
                return
            yield block
