"""What one package contributes to its catalog record, beside its payload walk: PE facts of a payload
file, custom actions, services and sensitive registry, a container's own kind and signature, and
the verdicts of the catalogs it delivers on its files.  Used by :mod:`msitools.library.scan`.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from msitools.errors import MsiToolsError
from msitools.findings import Finding
from msitools.limits import Limits
from msitools.pe.trust import signer_subject


def finding_row(finding: Finding) -> dict[str, Any]:
    """A finding as the catalog's ``findings`` rows hold it."""
    return {"level": finding.level.value, "where_found": finding.where, "message": finding.message}


def innermost(where: str, chains: Iterable[str]) -> str | None:
    """The longest of *chains* (package chains ``a.msi > b.cab > c.msp``) that *where* lies in, if any."""
    return max((c for c in chains if where == c or where.startswith(c + " > ")), key=len, default=None)


def pe_facts(data: bytes, name: str, limits: Limits) -> dict[str, Any]:
    from msitools.pe.authenticode_pe import signature_summary
    from msitools.pe.image import read_pe_info

    out: dict[str, Any] = {}
    try:
        info = read_pe_info(data, name, limits)
    except MsiToolsError:
        info = None
    if info is not None:
        out.update(version=info.file_version, platform=info.platform)
        languages = getattr(info, "languages", None)
        if languages:
            out["language"] = ",".join(str(x) for x in languages)
    signature = signature_summary(data, name, limits)
    out.update(signature_status=signature.get("status"), signer=signer_subject(signature))
    return out


def package_sections(pkg: Any, where: str, record: dict[str, Any]) -> None:
    """Custom actions, services and sensitive registry of one package (of its changes, for a patch)."""
    from msitools.review import sections
    from msitools.review.sources import package_source, patch_source

    if pkg.kind == "msp":
        from msitools.patch.msp import Msp

        source = patch_source(Msp(pkg))
    elif pkg.kind in ("msi", "msm"):
        source = package_source(pkg)
    else:
        return
    for ca in sections.custom_actions(source):
        target = ca.get("target")
        record["custom_actions"].append({
            "action": ca["action"], "type": ca["type"], "kind": ca["kind"], "description": ca["description"],
            "as_system": int(bool(ca["as_system"])), "execution": ca["execution"], "source": ca["source"],
            "target_sha256": hashlib.sha256(str(target).encode()).hexdigest() if target is not None else None,
            "where_found": where})
    found = sections.services(source)
    for s in found["installed"]:
        record["services"].append({"name": s["service"], "display_name": s["display_name"], "start": s["start"],
                                   "account": s["account"], "arguments": s["arguments"], "action": "install",
                                   "where_found": where})
    for s in found["controlled"]:
        record["services"].append({"name": s["service"], "display_name": None, "start": None, "account": None,
                                   "arguments": s["arguments"], "action": "control: " + ", ".join(s["events"]),
                                   "where_found": where})
    for r in sections.sensitive_registry(source):
        record["registry"].append({"root": str(r["root"]), "key": r["key"], "name": r["name"],
                                   "value": None if r["value"] is None else str(r["value"]),
                                   "why": ", ".join(r["why"]), "where_found": where})


def container_facts(path: str, record: dict[str, Any], limits: Limits) -> None:
    """Kind and own signature of a cabinet or an executable (packages report theirs through the walk)."""
    from msitools.payload.containers import detect, open_members

    kind = detect(path)
    if kind == "package":
        return
    if kind == "unknown":
        raise MsiToolsError("not a package, a cabinet or an executable container", path)
    with open_members(path, limits=limits) as walk:
        record["kind"] = walk.kind
        signature = walk.own_signature()
        record["signature"] = {"status": signature.get("status"), "signer": signer_subject(signature)}
        record["findings"].extend(finding_row(f) for f in walk.findings)


def delivers_catalogs(pkg: Any) -> bool:
    """True when an installer database delivers a catalog (``.cat``) among its File rows."""
    from msitools.payload.catalogs import has_catalogs

    if pkg.kind not in ("msi", "msm"):
        return False
    table = pkg.get_table("File")
    if table is None:
        return False
    try:
        at = table.column_index("FileName")
    except KeyError:
        return False
    return has_catalogs([str(row[at] or "") for row in table.rows])


class CatalogJudge:
    """Payload signed through catalogs: each package that delivers one collects its files' digests,
    judged when the walk ends (a file a catalog vouches for is ``catalog_signed``; one it names with
    other bytes, ``catalog_altered``), as ``verify`` and ``review`` judge them."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.collectors: dict[str, Any] = {}  # package chain -> CatalogCollector

    def package(self, pkg: Any, where: str) -> None:
        from msitools.payload.catalogs import CatalogCollector

        if delivers_catalogs(pkg):
            self.collectors[where] = CatalogCollector(None, self.limits)

    def add(self, index: int, found: Any, where: str, spool: Any) -> None:
        owner = innermost(where, self.collectors)
        if owner is None:
            return
        file = getattr(found.item, "file", None)
        folder = tuple(file.path[:-1]) if file is not None else None
        self.collectors[owner].add(index, found.name, folder, f"{where} > {found.name}", spool)

    def finish(self, record: dict[str, Any]) -> None:
        from msitools.pe.trust import CATALOG_ALTERED, UNSIGNED

        for collector in self.collectors.values():
            record["findings"].extend(finding_row(f) for f in collector.findings)
            for index, verdict in collector.finish().items():
                row = record["files"][index]
                if row["signature_status"] in (None, UNSIGNED) or verdict["status"] == CATALOG_ALTERED:
                    row["signature_status"], row["signer"] = verdict["status"], signer_subject(verdict)
