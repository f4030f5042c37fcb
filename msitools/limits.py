"""Named resource limits, in one place.

Packages come from untrusted downloads.  Every count or size that a file
controls is checked against one of these limits before it is trusted.  Callers
may pass their own :class:`Limits` (``dataclasses.replace(DEFAULT_LIMITS, ...)``).
"""
from __future__ import annotations

from dataclasses import dataclass

from msitools.errors import LimitExceeded

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    # compound file
    cfb_directory_entries: int = 1_000_000
    cfb_stream_size: int = 4 * GiB
    # database
    table_rows: int = 5_000_000
    table_columns: int = 32
    tables: int = 10_000
    pool_strings: int = 0xFFFFFF
    string_length: int = 64 * MiB
    string_data_size: int = 1 * GiB
    # summary information
    summary_properties: int = 1_000
    # transforms
    transform_records: int = 5_000_000
    # cabinets
    cab_folders: int = 65_535
    cab_files: int = 65_535
    cab_blocks_per_folder: int = 1_000_000
    cab_set_members: int = 1_000
    # decompression / extraction
    decompressed_total: int = 64 * GiB
    compression_ratio: int = 2_000
    package_nesting_depth: int = 4
    # PE images
    pe_resource_depth: int = 3
    pe_resource_entries: int = 10_000
    pe_read_size: int = 64 * MiB
    # self-extracting containers (SFX overlays, IExpress resources, Burn bundles)
    overlay_scan: int = 1 * MiB  # bytes of an overlay searched for the start of an appended cabinet
    container_cabinets: int = 64  # cabinets one container may hold
    burn_manifest_size: int = 16 * MiB
    # Authenticode on packages: the DER signature stream is parsed in memory
    signature_stream_size: int = 16 * MiB
    # published tables (msitools.kb)
    kb_document_size: int = 64 * MiB  # a document is read into memory
    kb_readings_per_row: int = 256  # readings of one squashed row
    kb_cover_rows: int = 2_000  # distinct reading sets in one group of related squashed rows
    kb_cover_steps: int = 200_000  # search steps for the smallest set of versions explaining a group

    def check(self, name: str, value: int, what: str = "", path=None) -> int:
        """Raise :class:`LimitExceeded` if *value* exceeds the limit called *name*."""
        maximum = getattr(self, name)
        if value > maximum:
            raise LimitExceeded(name, value, maximum, what, path)
        return value


DEFAULT_LIMITS = Limits()
