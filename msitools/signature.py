"""The ``signature`` job: the Authenticode of a package, a PE image or a catalog, and what it is worth.

:func:`signature_check` returns the report (the ``signature`` JSON) with its ``status``
(:mod:`msitools.pe.trust` states), ``weaknesses`` and an ``outcome``: ``ok`` only when the
file is signed, intact and its chain reaches a trusted root (or, with *allow_untrusted*,
when it is signed and intact); otherwise ``unsigned``, ``altered`` or ``untrusted``.
"""
from __future__ import annotations

import os
from typing import Any

from msitools.errors import UsageError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.pe.trust import ALTERED, INTACT, SIGNED_VALID, UNREADABLE, UNSIGNED, trust_store

OK = "ok"
OUTCOMES = (OK, "unsigned", "altered", "untrusted")


def _kind(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise UsageError(f"cannot open: {exc.strerror or exc}", path) from None
    if head == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "package"
    if head[:2] == b"MZ":
        return "pe"
    if head[:1] == b"\x30":  # a DER SEQUENCE: a PKCS#7 catalog
        return "catalog"
    raise UsageError("not a package, a PE image or a catalog", path)


def _package(path: str, store: Any, limits: Limits) -> dict[str, Any]:
    from msitools.db.package import open_package
    from msitools.pe.authenticode_msi import signature_report

    with open_package(path, limits) as pkg:
        report = signature_report(pkg, limits=limits, trust_store=store)
    return {"kind": "package", **report}


def _pe(path: str, store: Any, limits: Limits) -> dict[str, Any]:
    from msitools.pe.authenticode_pe import signature_summary

    with open(path, "rb") as fh:
        data = fh.read(limits.pe_read_size + 1)
    limits.check("pe_read_size", len(data), "PE image", path)
    summary = signature_summary(data, os.path.basename(path), limits, store)
    return {"kind": "pe", "path": path, "signed": summary["status"] != UNSIGNED, **summary}


def _catalog(path: str, store: Any, limits: Limits) -> dict[str, Any]:
    from msitools.pe.catalog import read_catalog

    with open(path, "rb") as fh:
        data = fh.read(limits.signature_stream_size + 1)
    catalog = read_catalog(data, os.path.basename(path), store, limits)
    return {"kind": "catalog", "path": path, "signed": True, **catalog.to_dict(), "chain": list(catalog.chain),
            "member_names": sorted({m.name for m in catalog.members if m.name})}


def outcome(status: str, allow_untrusted: bool = False) -> str:
    """``ok``, ``unsigned``, ``altered`` or ``untrusted`` for a signature state."""
    if status == SIGNED_VALID or (allow_untrusted and status in INTACT):
        return OK
    if status == UNSIGNED:
        return "unsigned"
    if status in ALTERED or status == UNREADABLE:
        return "altered"
    return "untrusted"


def signature_check(path: str | os.PathLike[str], *, trust_pem: tuple[str, ...] | list[str] = (),
                    allow_untrusted: bool = False, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The signature report of the package, PE image or catalog at *path*, with its ``outcome``.

    *trust_pem*: PEM files whose certificates are trusted besides the offline store.
    """
    path = os.fspath(path)
    store = trust_store(tuple(trust_pem))
    readers = {"package": _package, "pe": _pe, "catalog": _catalog}
    report = readers[_kind(path)](path, store, limits)
    status = str(report.get("status") or UNSIGNED)
    report["status"] = status
    report.setdefault("weaknesses", [])
    report["outcome"] = outcome(status, allow_untrusted)
    report["trust_store"] = ["offline store", *map(str, trust_pem)]
    return report
