"""Run the shares of one job side by side in forked worker processes (POSIX).

Used by extraction (the files of a big package), verification (the published table parsed while
the delivery is walked) and scan (the unchanged check of a big library).

Extraction is bound by per-file work (decoding, system calls, Python's own
overhead) that one process does on one core.  :func:`run_shares` runs the
first share in this process and every other share in a child forked from it:
a child starts with everything the parent has already read (the package, its
file listing), so nothing is parsed twice and nothing has to be sent to it.
Each child sends back its result, pickled, through a pipe.

Compound files opened from a path re-open themselves in the child
(:mod:`msitools.container.cfb`), so parent and children never share a file offset.
An exception in a child is raised again in the parent once every share has
ended; children are always waited for, never killed, so none is interrupted
half-way through writing a file.
"""
from __future__ import annotations

import mmap
import os
import select
import struct
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from msitools.errors import MsiToolsError

T = TypeVar("T")


def can_fork() -> bool:
    """True where forking this process is safe to use (Linux; not macOS or Windows)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class SharedCounts:
    """One counter per share in memory shared with forked children (each share adds to its own slot)."""

    def __init__(self, slots: int):
        self._slots = max(1, slots)
        self._mem = mmap.mmap(-1, 8 * self._slots)

    def add(self, slot: int, n: int = 1) -> None:
        at = 8 * slot
        struct.pack_into("<q", self._mem, at, struct.unpack_from("<q", self._mem, at)[0] + n)

    def total(self) -> int:
        return sum(struct.unpack_from(f"<{self._slots}q", self._mem, 0))


def run_shares(shares: Sequence[Callable[[], T]], waiting: Callable[[], None] | None = None) -> list[T]:
    """``[share() for share in shares]``, the shares after the first in forked children.

    *waiting* is called about five times a second while this process waits for
    the children (to show their progress, say)."""
    if len(shares) <= 1 or not can_fork():
        return [share() for share in shares]
    children: list[tuple[int, int]] = []
    for share in shares[1:]:
        children.append(_fork(share))
    first: list[T] = []
    error: BaseException | None = None
    try:
        first.append(shares[0]())
    except BaseException as exc:  # still collect the children below, then raise
        error = exc
    try:
        payloads = _drain_pipes([fd for _pid, fd in children], waiting)
    except BaseException:  # interrupted while waiting: the children (interrupted too) still end first
        for pid, _fd in children:
            os.waitpid(pid, 0)
        raise
    results: list[T] = []
    for pid, fd in children:
        try:
            outcome = _collect(pid, payloads[fd])
        except BaseException as exc:
            error = error or exc
            continue
        if isinstance(outcome, BaseException):
            error = error or outcome
        else:
            results.append(outcome)
    if error is not None:
        raise error
    return first + results


def _fork(share: Callable[[], T]) -> tuple[int, int]:
    import pickle

    read_end, write_end = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # pragma: no cover - a closed stream
            pass
    pid = os.fork()
    if pid == 0:  # the child: run the share, send the outcome, leave without running any cleanup of the parent's
        code = 0
        try:
            os.close(read_end)
            try:
                payload = pickle.dumps(share(), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:
                code = 1
                payload = _pickled_error(exc)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _pickled_error(exc: BaseException) -> bytes:
    import pickle

    try:
        payload = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(payload)
        return payload
    except Exception:  # an exception that does not survive pickling: keep its text
        return pickle.dumps(MsiToolsError(f"a worker process failed: {exc.__class__.__name__}: {exc}"))


def _drain_pipes(fds: list[int], waiting: Callable[[], None] | None) -> dict[int, bytes]:
    """Everything each child writes to its pipe, read as it comes; *waiting* called between reads."""
    parts: dict[int, list[bytes]] = {fd: [] for fd in fds}
    open_fds = set(fds)
    try:
        while open_fds:
            ready, _, _ = select.select(sorted(open_fds), [], [], 0.2)
            for fd in ready:
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    parts[fd].append(chunk)
                else:
                    open_fds.discard(fd)
            if waiting is not None:
                waiting()
    finally:
        for fd in fds:
            os.close(fd)
    return {fd: b"".join(chunks) for fd, chunks in parts.items()}


def _collect(pid: int, payload: bytes):
    import pickle

    _, status = os.waitpid(pid, 0)
    if not payload:
        how = (f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exited with status {os.waitstatus_to_exitcode(status)}")
        return MsiToolsError(f"a worker process {how} before reporting its result")
    return pickle.loads(payload)
