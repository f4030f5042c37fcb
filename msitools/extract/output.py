"""The output folder of an extraction: made ready before anything is decoded, cleaned of unfinished files.

* :func:`prepare_output` creates the folder and proves it can be written (a probe
  file created and removed), so an unusable folder fails once, at once, with one
  line, and not once per file;
* :func:`remove_stale_parts` removes the temporary ``.msitools-PID-N.part`` files
  (see :class:`~msitools.base.fsutil.AtomicWriter`) that a run killed before it
  could clean up left behind, when their process is gone;
* :func:`existing_state` tells ``--skip-existing`` whether a file is already
  there with the expected size (skip), with another size (fail), or absent.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from msitools.errors import ExtractionError, UnsafePathError

PART_NAME = re.compile(r"\.msitools-(\d+)-\d+\.part\Z")


def prepare_output(out: Path) -> bool:
    """Create *out* if needed and check that files can be created in it; True when it existed before.

    Raises ExtractionError (naming the folder) when it cannot be created or written.
    """
    existed = os.path.lexists(out)
    if existed and os.path.islink(out):
        raise UnsafePathError("the output folder is a symlink", str(out))
    if existed and not out.is_dir():
        raise ExtractionError("the output path exists and is not a folder", str(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExtractionError(f"cannot create the output folder: {exc.strerror or exc}", str(out)) from None
    probe = out / f".msitools-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise ExtractionError(f"cannot write in the output folder: {exc.strerror or exc}", str(out)) from None
    os.close(fd)
    os.unlink(probe)
    return existed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this run has written nothing yet, or has stopped writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a number no process has: leave its file alone
    return True


def remove_stale_parts(out: Path) -> int:
    """Remove unfinished temporary files of runs whose process is gone (or of this process, which calls
    this before it writes and after it stops), anywhere under *out*; how many."""
    removed = 0
    for folder, dirs, names in os.walk(out):  # symlinked folders are not followed
        for name in names:
            match = PART_NAME.match(name)
            if match is None or _alive(int(match.group(1))):
                continue
            path = os.path.join(folder, name)
            try:
                if stat.S_ISREG(os.lstat(path).st_mode):
                    os.unlink(path)
                    removed += 1
            except OSError:
                continue
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return removed


SKIP, ABSENT = "skip", "absent"


def existing_state(root: Path, parts: list[str], expected: int | None) -> str:
    """``"skip"`` when ``root/parts`` is a regular file of the expected size, ``"absent"`` when
    nothing is there, else the reason it can be neither skipped nor written."""
    path = os.path.join(root, *parts)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return ABSENT
    except OSError as exc:
        return f"cannot check {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} exists and is not a regular file"
    if expected is not None and st.st_size != expected:
        return (f"{path} exists with {st.st_size:,} bytes, the package's file has {expected:,} "
                "(use --force to replace it)")
    return SKIP
