"""Which kind of file a download is, by content, and the one walker over the members of any container.

``package`` (a compound file: MSI, MSP, MST, MSM), ``cab`` (a cabinet; ``msu`` when it holds an
update's cabinet and .xml), ``exe`` (a PE file: SFX, IExpress, Burn bundle or a plain image), or
``unknown``.  :func:`open_members` returns a :class:`~msitools.payload.cabinet.CabinetPayload`
or an :class:`~msitools.payload.exe.ExePayload`; both iterate PayloadItems, keep ``findings``,
and say ``own_signature()`` and ``kind``.
"""
from __future__ import annotations

import os
from typing import Union

from msitools.base.fsutil import read_magic
from msitools.cab.header import SIGNATURE as CAB_MAGIC
from msitools.container.cfb import CFB_MAGIC
from msitools.errors import UsageError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.payload.cabinet import CabinetPayload
from msitools.payload.exe import ExePayload

MemberWalk = Union[CabinetPayload, ExePayload]  # noqa: UP007 (a runtime alias)


def detect(path: str | os.PathLike[str]) -> str:
    """``package``, ``cab``, ``exe`` or ``unknown`` from the file's first bytes."""
    head = read_magic(path)
    if head == CFB_MAGIC:
        return "package"
    if head[:4] == CAB_MAGIC:
        return "cab"
    if head[:2] == b"MZ":
        return "exe"
    return "unknown"


def open_members(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS, backend: str = "auto"
                 ) -> MemberWalk:
    """The member walk of a cabinet (and its set) or of a PE file's containers (raises for anything else)."""
    kind = detect(path)
    if kind == "cab":
        return CabinetPayload(path, limits=limits, backend=backend)
    if kind == "exe":
        return ExePayload(path, limits=limits, backend=backend)
    raise UsageError("not a cabinet or an executable container", os.fspath(path))
