"""Cabinet (.cab) files: reading (pure Python, or libarchive when it applies) and writing fixtures.

Public API::

    Cabinet.open(fileobj, name, limits=DEFAULT_LIMITS) -> Cabinet
    Cabinet.from_path(path) -> Cabinet
    CabinetSet(cabinets, resolver=None) -> CabinetSet
    cabinet_or_set.list_members() -> list[CabinetMember]
    cabinet_or_set.iter_members(selection=None, backend="auto") -> iterator of (CabinetMember, chunks)
    cabinet_or_set.read_member(name) -> bytes

Modules: ``header`` (CFHEADER/CFFOLDER/CFFILE), ``cfdata`` (CFDATA blocks),
``checksum``, ``mszip``, ``lzx``, ``quantum`` (decoders), ``folder`` (block
streaming of one folder across cabinets), ``reader`` (cabinets, sets,
members), ``libarchive_backend`` (fast path), ``writer`` (deterministic
cabinets for test fixtures) with ``lzx_encoder``/``quantum_encoder`` (small
encoders that exist only so the decoders can be checked against cabextract).
"""
from __future__ import annotations

from msitools.cab.header import CabinetHeader, CompressionType, FileEntry, FolderEntry
from msitools.cab.reader import Cabinet, CabinetMember, CabinetSet, SetFolder, directory_resolver

__all__ = [
    "Cabinet",
    "CabinetHeader",
    "CabinetMember",
    "CabinetSet",
    "CompressionType",
    "FileEntry",
    "FolderEntry",
    "SetFolder",
    "directory_resolver",
]
