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

import os
import re
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import ExtractionError, UnsafePathError

RESERVED_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}
MAX_COMPONENT_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_component(name: str) -> str:
    """Return *name* if it is a safe single path component, else raise UnsafePathError."""
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


def safe_join(root: "str | os.PathLike[str]", parts: Iterable[str]) -> Path:
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


class AtomicWriter:
    """Context manager: write a file under a temporary name, rename into place on success.

    ``expected_size``: the rename happens only when exactly that many bytes
    were written; otherwise the temporary file is removed and ExtractionError
    raised.  ``force``: replace an existing destination (never a directory or
    a symlink).
    """

    def __init__(self, dest: "str | os.PathLike[str]", expected_size: "int | None" = None, force: bool = False):
        self.dest = Path(dest)
        self.expected_size = expected_size
        self.force = force
        self.written = 0
        self._fh = None
        self._tmp: str | None = None

    def __enter__(self) -> "AtomicWriter":
        dest = self.dest
        if dest.is_symlink():
            raise UnsafePathError(f"refusing to write through the symlink {dest}")
        if dest.exists():
            if dest.is_dir():
                raise ExtractionError(f"{dest} exists and is a directory")
            if not self.force:
                raise ExtractionError(f"{dest} already exists (use --force to overwrite)")
        fd, self._tmp = tempfile.mkstemp(prefix=".msitools-", suffix=".part", dir=dest.parent)
        self._fh = os.fdopen(fd, "wb")
        return self

    def write(self, data: bytes) -> None:
        assert self._fh is not None
        self._fh.write(data)
        self.written += len(data)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._fh is not None and self._tmp is not None
        self._fh.close()
        if exc_type is None and self.expected_size is not None and self.written != self.expected_size:
            os.unlink(self._tmp)
            raise ExtractionError(
                f"{self.dest.name}: wrote {self.written} bytes, expected {self.expected_size}; file not kept")
        if exc_type is not None:
            os.unlink(self._tmp)
            return
        os.replace(self._tmp, self.dest)


def write_file(dest: "str | os.PathLike[str]", data: "bytes | Iterable[bytes]", expected_size: "int | None" = None,
               force: bool = False) -> int:
    with AtomicWriter(dest, expected_size, force) as out:
        if isinstance(data, (bytes, bytearray, memoryview)):
            out.write(bytes(data))
        else:
            for chunk in data:
                out.write(chunk)
    return out.written
