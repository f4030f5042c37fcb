"""The review walk: a package, everything it delivers, and every package inside it, resiliently.

Each package opened (the top one, a patch or an installer in its payload, a package in a
cabinet) adds its signature and its sections to one report; every entry says ``where`` it
was found (``hotfix.msi > hotfix.cab > x.msp``).  A part that cannot be read (a cabinet
with a bad checksum, a broken stream, a truncated file) becomes an ``unreadable`` entry
with the reason, and the rest is still reviewed.
"""
from __future__ import annotations

import os
from typing import Any

from msitools.container.cfb import CFB_MAGIC
from msitools.db.package import Package, open_package
from msitools.db.patched import PatchedDatabase
from msitools.errors import MsiToolsError
from msitools.findings import Level
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.patch.msp import Msp
from msitools.patch.payload import NOT_IN_CABINET, PatchPayload
from msitools.payload.catalogs import CatalogCollector, has_catalogs
from msitools.payload.files import list_package_files
from msitools.payload.items import KIND_EMPTY, PayloadItem
from msitools.payload.package import iter_package_payload
from msitools.payload.spool import Spool
from msitools.pe.authenticode_msi import safe_signature_report
from msitools.pe.trust import ALTERED, CATALOG_ALTERED, UNSIGNED
from msitools.review import sections
from msitools.review.sources import Source, package_source, patch_source, view_source

LIST_SECTIONS = ("custom_actions", "registry", "system_files", "environment", "shortcuts", "ini_files",
                 "permissions", "properties", "binaries")


def empty_report(path: str, kind: str, scope: str) -> dict[str, Any]:
    return {"path": path, "kind": kind, "scope": scope, "summary": {}, "packages": [], "signatures": [],
            "payload_signatures": [], "services": {"installed": [], "controlled": [], "configured": []},
            "upgrades": {"rows": [], "remove_existing_products": []},
            **{name: [] for name in LIST_SECTIONS}, "unreadable": [], "skipped": []}


def _pe_signature(data: bytes, name: str, trust_store: Any = None) -> dict[str, Any]:
    from msitools.pe.authenticode_pe import signature_summary  # signify is loaded only when needed

    return signature_summary(data, name, trust_store=trust_store)


class Walker:
    """Fills one report; *depth*: how many levels of packages inside packages to open (None: all)."""

    def __init__(self, report: dict[str, Any], limits: Limits = DEFAULT_LIMITS, depth: int | None = None,
                 trust_store: Any = None):
        self.report = report
        self.limits = limits
        self.depth = depth
        self.trust_store = trust_store

    # -- bookkeeping ---------------------------------------------------------------------------------
    def unreadable(self, where: str, reason: str) -> None:
        self.report["unreadable"].append({"where": where, "reason": reason})

    def _add(self, name: str, entries: list[dict[str, Any]], where: str) -> None:
        self.report[name].extend({"where": where, **e} for e in entries)

    def _signature(self, data: bytes, name: str) -> dict[str, Any]:
        return _pe_signature(data, name, self.trust_store)

    # -- a package -----------------------------------------------------------------------------------
    def package(self, pkg: Package, chain: list[str], view: PatchedDatabase | None = None,
                level: int = 0) -> None:
        where = " > ".join(chain)
        self.report["signatures"].append({"package": where, **safe_signature_report(pkg, self.trust_store)})
        msp = None
        try:
            if pkg.kind == "msp":
                msp = Msp(pkg)
                source = patch_source(msp)
            elif view is not None:
                source = view_source(view)
            else:
                source = package_source(pkg)
        except MsiToolsError as exc:
            self.unreadable(where, f"tables unreadable: {exc.message}")
            self.report["packages"].append({"where": where, "kind": pkg.kind, "scope": "unreadable"})
            return
        self.report["packages"].append({"where": where, "kind": pkg.kind, "scope": source.scope})
        self._sections(source, where, dump=pkg.path if level == 0 and view is None else None)
        try:
            if msp is not None:
                self._patch_payload(msp, chain, level)
            else:
                self._database_payload(pkg, view, chain, level)
        except MsiToolsError as exc:
            self.unreadable(where, f"payload unreadable: {exc.message}")

    def _sections(self, source: Source, where: str, dump: str | None) -> None:
        steps: list[tuple[str, Any]] = [
            ("custom_actions", lambda: sections.custom_actions(source, self._signature)),
            ("registry", lambda: sections.sensitive_registry(source)),
            ("system_files", lambda: sections.system_files(source)),
            ("environment", lambda: sections.environment(source)),
            ("shortcuts", lambda: sections.shortcuts(source)),
            ("ini_files", lambda: sections.ini_files(source)),
            ("permissions", lambda: sections.permissions(source)),
            ("properties", lambda: sections.security_properties(source)),
        ]
        for name, step in steps:
            try:
                self._add(name, step(), where)
            except MsiToolsError as exc:
                self.unreadable(where, f"{name.replace('_', ' ')} unreadable: {exc.message}")
        used: dict[str, list[str]] = {}
        for ca in self.report["custom_actions"]:
            if ca["where"] == where and ca.get("embedded"):
                used.setdefault(ca["embedded"]["stream"][len("Binary."):], []).append(ca["action"])
        try:
            self._add("binaries", sections.binaries(source, used, dump), where)
            found = sections.services(source)
            for key in ("installed", "controlled", "configured"):
                self.report["services"][key].extend({"where": where, **e} for e in found[key])
            upgrade = sections.upgrades(source)
            self.report["upgrades"]["rows"].extend({"where": where, **e} for e in upgrade["rows"])
            self.report["upgrades"]["remove_existing_products"].extend(
                {"where": where, **e} for e in upgrade["remove_existing_products"])
        except MsiToolsError as exc:
            self.unreadable(where, f"tables unreadable: {exc.message}")

    # -- payload -------------------------------------------------------------------------------------
    def _inspect(self, item: PayloadItem, chain: list[str], level: int, catalogs: CatalogCollector | None = None,
                 key: Any = None) -> dict[str, Any] | None:
        """The signature of a payload PE image (None: not one); a package inside is reviewed in turn."""
        try:
            spool = item.spool()
        except MsiToolsError as exc:
            return {"status": "unreadable", "reason": exc.message}
        with spool:
            if catalogs is not None:
                folder = tuple(item.file.path[:-1]) if item.file is not None else None
                catalogs.add(key, item.name, folder, " > ".join(chain), spool)
            head = spool.head(8)
            if head == CFB_MAGIC:
                self._nested(spool, chain, level)
                return None
            if head[:4] == b"MSCF":
                self._nested_cabinet(spool, chain, level)
                return None
            if head[:2] != b"MZ":
                return None
            if spool.size > self.limits.pe_read_size:
                return {"status": "unreadable", "reason": f"PE image larger than the pe_read_size limit "
                                                          f"({self.limits.pe_read_size} bytes)"}
            return self._signature(spool.read(self.limits.pe_read_size), item.name)

    def _nested(self, spool: Spool, chain: list[str], level: int) -> None:
        where = " > ".join(chain)
        if self.depth is not None and level >= self.depth:
            self.report["skipped"].append({"where": where, "reason": f"a package inside, not opened (--depth "
                                                                     f"{self.depth})"})
            return
        if level + 1 > self.limits.package_nesting_depth:
            self.report["skipped"].append({"where": where, "reason": "nesting depth limit reached"})
            return
        try:
            nested = open_package(spool.fileobj(), self.limits, name=chain[-1])
        except MsiToolsError as exc:
            self.unreadable(where, f"looks like a package but does not open: {exc.message}")
            return
        with nested:
            self.package(nested, chain, level=level + 1)

    def _nested_cabinet(self, spool: Spool, chain: list[str], level: int) -> None:
        from msitools.payload.cabinet import CabinetPayload

        where = " > ".join(chain)
        if self.depth is not None and level >= self.depth:
            self.report["skipped"].append({"where": where, "reason": f"a cabinet inside, not opened (--depth "
                                                                     f"{self.depth})"})
            return
        try:
            walk = CabinetPayload(chain[-1], fileobj=spool.fileobj(), label=chain[-1], limits=self.limits)
        except MsiToolsError as exc:
            self.unreadable(where, f"looks like a cabinet but does not open: {exc.message}")
            return
        with walk:
            self._members(walk, chain[:-1], where, level + 1)

    def _database_payload(self, pkg: Package, view: PatchedDatabase | None, chain: list[str], level: int) -> None:
        listing = list_package_files(pkg, view)
        catalogs = CatalogCollector(self.trust_store, pkg.limits) \
            if has_catalogs([f.file_name for f in listing.files]) else None
        entries: list[dict[str, Any]] = []
        for item in iter_package_payload(pkg, view, listing):
            f = item.file
            assert f is not None  # the package walk names the File row of every item
            if view is not None and f.op == "none":
                continue
            where = chain + item.found_in
            if item.error is not None:
                self.unreadable(" > ".join(where), item.error)
                entries.append({"where": " > ".join(chain), "file": f.display_path, "status": "unreadable",
                                "reason": item.error, "source": item.source})
                continue
            entry: dict[str, Any] = {"where": " > ".join(chain), "file": f.display_path, "source": item.source}
            signature = self._inspect(item, where, level, catalogs, id(entry))
            entry.update(signature or {"status": None})
            if entry["status"] == "unreadable":
                self.unreadable(" > ".join(where), str(entry.get("reason")))
            entries.append(entry)
        verdicts = catalogs.finish() if catalogs is not None else {}
        for entry in entries:
            verdict = verdicts.get(id(entry))
            if verdict is not None and (entry.get("status") == UNSIGNED or verdict["status"] == CATALOG_ALTERED):
                entry.update(verdict)  # signed through a catalog, or any file a catalog proves altered
        self.report["payload_signatures"].extend(e for e in entries if e.get("status") is not None)

    def _patch_payload(self, msp: Msp, chain: list[str], level: int) -> None:
        walk = PatchPayload(msp, where=" > ".join(chain))
        for item in walk:
            if item.kind == KIND_EMPTY or item.error == NOT_IN_CABINET:
                continue
            label = item.member.name if item.member is not None else item.key or item.name
            here = chain + item.found_in
            if item.error is not None:
                self.unreadable(" > ".join(here), item.error)
                self.report["payload_signatures"].append({"where": " > ".join(chain), "file": label,
                                                          "name": item.name, "status": "unreadable",
                                                          "reason": item.error})
                continue
            signature = self._inspect(item, here, level)
            if signature is not None:
                if signature.get("status") == "unreadable":
                    self.unreadable(" > ".join(here), str(signature.get("reason")))
                self.report["payload_signatures"].append({"where": " > ".join(chain), "file": item.name,
                                                          "member": label, "name": item.name,
                                                          "source": " > ".join(item.source.split(" > ")[:2]),
                                                          **signature})
        for finding in walk.findings:
            if finding.level == Level.ERROR:
                self.unreadable(finding.where or " > ".join(chain), finding.message)

    # -- a bare cabinet ------------------------------------------------------------------------------
    def cabinet(self, path: str) -> None:
        """A bare cabinet (and its set) or an executable container: the signature of the file itself (an
        executable's Authenticode), every PE image inside and every package inside, reviewed in turn."""
        from msitools.payload.containers import open_members
        from msitools.payload.exe import KIND_PE

        name = os.path.basename(path)
        with open_members(path, limits=self.limits) as walk:
            self.report["kind"] = walk.kind
            self.report["scope"] = "cabinet" if walk.kind in ("cab", "msu") else "container"
            self.report["signatures"].append({"package": name, **walk.own_signature(self.trust_store)})
            self.report["packages"].append({"where": name, "kind": walk.kind, "scope": "container"})
            if walk.kind == KIND_PE:
                self.report["notes"] = ["a PE image with no container in it"]
                return
            outer = [] if walk.kind in ("cab", "msu") else [name]
            self._members(walk, outer, name, 0)
            self.report["notes"] = [f.message for f in walk.findings]
            for finding in walk.findings:
                if finding.level == Level.ERROR:
                    self.unreadable(finding.where, finding.message)

    def _members(self, walk: Any, outer: list[str], where: str, level: int) -> None:
        for item in walk:
            here = outer + list(item.found_in)
            if item.error is not None:
                self.unreadable(" > ".join(here), item.error)
                self.report["payload_signatures"].append({"where": where, "file": item.name,
                                                          "status": "unreadable", "reason": item.error})
                continue
            signature = self._inspect(item, here, level)
            if signature is not None:
                self.report["payload_signatures"].append({"where": where, "file": item.name,
                                                          "source": " > ".join(here), **signature})


def summarize(report: dict[str, Any]) -> None:
    """Custom actions ordered by risk across every package; counts per section and per signature status,
    and whether anything needs attention, into ``report["summary"]``."""
    report["custom_actions"].sort(key=lambda ca: ca.get("risk", 4))  # stable: package order within a rank
    statuses: dict[str, int] = {}
    for sig in report["signatures"] + report["payload_signatures"]:
        status = str(sig.get("status") or ("unsigned" if not sig.get("signed") else "signed"))
        statuses[status] = statuses.get(status, 0) + 1
    counts = {name: len(report[name]) for name in LIST_SECTIONS}
    counts["payload_executables"] = len(report["payload_signatures"])
    counts["services"] = sum(len(v) for v in report["services"].values())
    counts["upgrades"] = len(report["upgrades"]["rows"])
    counts["as_system"] = sum(1 for ca in report["custom_actions"] if ca.get("as_system"))
    altered = [s for s in report["signatures"] + report["payload_signatures"] if s.get("status") in ALTERED]
    report["summary"] = {"packages": len(report["packages"]), "unreadable": len(report["unreadable"]),
                         "altered": len(altered), "signatures": statuses, "counts": counts,
                         "attention": bool(report["unreadable"] or altered)}
