"""The security review: what a package, and everything it delivers, will run and change.

:func:`review_file` opens a package (MSI, MSM, MSP) or a bare cabinet and walks it like
``verify`` does: the package's own tables and signature, its payload (every PE image's
Authenticode status, catalogs counted), and every package inside it (a patch or an
installer in its payload, down to *depth* levels; all by default).  Sections
(:mod:`msitools.review.sections`): custom actions (decoded; "runs as SYSTEM"; most serious
first), services installed, controlled and configured, registry under sensitive keys,
files into system folders, environment variables, upgrades and RemoveExistingProducts,
shortcuts, INI files, permissions, security-relevant properties, Binary streams.  Every
entry says ``where`` it was found; a part that cannot be read is an ``unreadable``
entry and the rest is still reviewed.  With a patch or transform applied to a base (a
patched view), only what they change is reviewed.
"""
from __future__ import annotations

import os
from typing import Any

from msitools.base.fsutil import read_magic
from msitools.db.package import Package
from msitools.db.patched import PatchedDatabase
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.review.walk import Walker, empty_report, summarize

__all__ = ["review", "review_cabinet", "review_file"]


def review(pkg: Package, view: PatchedDatabase | None = None, *, depth: int | None = None,
           trust_store: Any = None) -> dict[str, Any]:
    """Review an opened package (with *view*: only what the patches or transforms change)."""
    scope = "changes applied by the patch/transform" if view is not None else \
        "rows the patch inserts or updates (no base given)" if pkg.kind == "msp" else "package"
    report = empty_report(pkg.path, pkg.kind, scope)
    walker = Walker(report, pkg.limits, depth, trust_store)
    walker.package(pkg, [os.path.basename(pkg.path)], view)
    if view is not None:  # the patches and transforms applied are packages of their own
        from msitools.pe.authenticode_msi import safe_signature_report

        seen = {pkg.path}
        for origin in view.origins.values():
            if origin.path not in seen:
                seen.add(origin.path)
                report["signatures"].append({"package": os.path.basename(origin.path),
                                             **safe_signature_report(origin, trust_store)})
    summarize(report)
    return report


def review_cabinet(path: str, limits: Limits = DEFAULT_LIMITS, *, depth: int | None = None,
                   trust_store: Any = None) -> dict[str, Any]:
    """Review a bare cabinet (with the rest of its set) or an executable container (SFX, IExpress, Burn):
    the signature of every PE image inside, and every package inside reviewed in turn."""
    report = empty_report(path, "cab", "cabinet")
    Walker(report, limits, depth, trust_store).cabinet(path)
    summarize(report)
    return report


def review_file(path: str, *, depth: int | None = None, limits: Limits = DEFAULT_LIMITS,
                trust_store: Any = None) -> dict[str, Any]:
    """Review a package or a cabinet by path (raises only when the file itself cannot be opened)."""
    from msitools.db.package import open_package

    magic = read_magic(path)
    if magic[:4] == b"MSCF" or magic[:2] == b"MZ":
        return review_cabinet(path, limits, depth=depth, trust_store=trust_store)
    with open_package(path, limits) as pkg:
        return review(pkg, depth=depth, trust_store=trust_store)
