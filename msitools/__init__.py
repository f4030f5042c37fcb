"""msitools: open Windows Installer packages (MSI, MSP, MST, MSM) and their cabinets on any machine,
and verify that a hotfix delivers exactly what its vendor published.

The public API, one name per job (see the README, "Python API")::

    import msitools

    with msitools.open_package("product.msi") as pkg:       # read a package
        pkg.kind, pkg.summary.to_dict(), pkg.table("File").records()
    report = msitools.verify("hotfix.msi", "kb.md")          # the flagship: a VerifyReport
    report.verdict, report.to_dict()
    msitools.extract("product.msi", "out/")                   # write the payload safely
    msitools.review(pkg)                                       # what a package runs and changes
    msitools.review_file("hotfix.msi")                         # ... and every package it delivers
    msitools.diff_files("v1.msi", "v2.msi")                    # what changed between two versions
    msitools.sbom_json("hotfix.msi")                           # a CycloneDX SBOM (JSON text)
    msitools.hash_listing("hotfix.msi", "sha256", recursive=True)  # every delivered file's digest
    table = msitools.parse_kb("kb.md")                         # a published file-information table
    msitools.scan_library(["/share"], "catalog.sqlite", jobs=2)    # a software library into a catalog
    msitools.query_catalog("catalog.sqlite", "file", "openssl.dll", older_than="3.0")

Names are loaded on first use, so ``import msitools`` stays cheap for the command line.
Everything else is importable from its module but is not part of this contract.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from msitools.errors import (
    CabinetError,
    ChecksumError,
    CompoundFileError,
    DatabaseError,
    DecompressionError,
    DeltaError,
    ExtractionError,
    KbParseError,
    LimitExceeded,
    MsiToolsError,
    PatchError,
    PeError,
    SignatureError,
    StringPoolError,
    SummaryInfoError,
    TableError,
    TransformError,
    UnsafePathError,
    UsageError,
)
from msitools.limits import DEFAULT_LIMITS, Limits

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY = {
    "open_package": "msitools.db.package",
    "Package": "msitools.db.package",
    "Transform": "msitools.db.transform",
    "PatchedDatabase": "msitools.db.patched",
    "Msp": "msitools.patch.msp",
    "apply_patches_and_transforms": "msitools.patch.msp",
    "patch_report": "msitools.patch.report",
    "PatchPayload": "msitools.patch.payload",
    "Cabinet": "msitools.cab",
    "CabinetSet": "msitools.cab",
    "list_package_files": "msitools.payload.files",
    "iter_package_payload": "msitools.payload.package",
    "PayloadItem": "msitools.payload.items",
    "PublishedTable": "msitools.kb",
    "parse_kb": "msitools.kb",
    "parse_kb_text": "msitools.kb",
    "verify": "msitools.verify",
    "VerifyReport": "msitools.verify",
    "extract": "msitools.extract",
    "ExtractReport": "msitools.extract",
    "review": "msitools.review",
    "review_file": "msitools.review",
    "diff_files": "msitools.diff",
    "sbom_json": "msitools.sbom",
    "hash_listing": "msitools.inventory",
    "export_package": "msitools.export",
    "read_pe_info": "msitools.pe.image",
    "signature_report": "msitools.pe.authenticode_msi",
    "Finding": "msitools.findings",
    "Level": "msitools.findings",
    "scan_library": "msitools.library.scan",
    "query_catalog": "msitools.library.query",
    "query_catalog_sql": "msitools.library.query",
    "verify_batch": "msitools.library.batch",
}
_RENAMED = {"parse_kb": "parse_file", "parse_kb_text": "parse_table", "scan_library": "scan",
            "query_catalog": "ask", "query_catalog_sql": "run_sql", "verify_batch": "run_batch"}

__all__ = [
    "DEFAULT_LIMITS",
    "Cabinet",
    "CabinetError",
    "CabinetSet",
    "ChecksumError",
    "CompoundFileError",
    "DatabaseError",
    "DecompressionError",
    "DeltaError",
    "ExtractReport",
    "ExtractionError",
    "Finding",
    "KbParseError",
    "Level",
    "LimitExceeded",
    "Limits",
    "MsiToolsError",
    "Msp",
    "Package",
    "PatchError",
    "PatchPayload",
    "PatchedDatabase",
    "PayloadItem",
    "PeError",
    "PublishedTable",
    "SignatureError",
    "StringPoolError",
    "SummaryInfoError",
    "TableError",
    "Transform",
    "TransformError",
    "UnsafePathError",
    "UsageError",
    "VerifyReport",
    "__version__",
    "apply_patches_and_transforms",
    "diff_files",
    "export_package",
    "extract",
    "hash_listing",
    "iter_package_payload",
    "list_package_files",
    "open_package",
    "parse_kb",
    "parse_kb_text",
    "patch_report",
    "query_catalog",
    "query_catalog_sql",
    "read_pe_info",
    "review",
    "review_file",
    "sbom_json",
    "scan_library",
    "signature_report",
    "verify",
    "verify_batch",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msitools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from msitools.cab import Cabinet, CabinetSet
    from msitools.db.package import Package, open_package
    from msitools.db.patched import PatchedDatabase
    from msitools.db.transform import Transform
    from msitools.diff import diff_files
    from msitools.export import export_package
    from msitools.extract import ExtractReport, extract
    from msitools.findings import Finding, Level
    from msitools.inventory import hash_listing
    from msitools.kb import PublishedTable
    from msitools.kb import parse_file as parse_kb
    from msitools.kb import parse_table as parse_kb_text
    from msitools.library.batch import run_batch as verify_batch
    from msitools.library.query import ask as query_catalog
    from msitools.library.query import run_sql as query_catalog_sql
    from msitools.library.scan import scan as scan_library
    from msitools.patch.msp import Msp, apply_patches_and_transforms
    from msitools.patch.payload import PatchPayload
    from msitools.patch.report import patch_report
    from msitools.payload.files import list_package_files
    from msitools.payload.items import PayloadItem
    from msitools.payload.package import iter_package_payload
    from msitools.pe.authenticode_msi import signature_report
    from msitools.pe.image import read_pe_info
    from msitools.review import review, review_file
    from msitools.sbom import sbom_json
    from msitools.verify import VerifyReport, verify
