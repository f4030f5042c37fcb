"""Patches (.msp): transform pairs, applicability, metadata, payload cabinets and the patch report.

An .msp holds its own small database (MsiPatchMetadata, MsiPatchSequence),
the embedded cabinet stream(s), and for every target a pair of transform
substorages listed in its summary's Last Saved By: ``T`` (the product diff)
then ``#T`` (the patch plumbing: Media, PatchPackage, File sequence numbers,
Patch/MsiPatchHeaders for deltas).  FORMATS.md §3.7 and §4.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from msitools.cab import Cabinet
from msitools.db.package import Package
from msitools.db.patched import PatchedDatabase
from msitools.db.transform import OP_INSERT, OP_UPDATE, TableChanges, Transform
from msitools.errors import HINT_NEEDS_PATCH, HINT_NEEDS_TRANSFORM, PatchError, UsageError
from msitools.findings import Finding, Level

PATCH_ADDED = 0x1000


@dataclass
class TransformPair:
    main: Transform
    plumbing: Transform | None

    @property
    def name(self) -> str:
        return self.main.name

    @property
    def transforms(self) -> list[Transform]:
        return [self.main] + ([self.plumbing] if self.plumbing is not None else [])


def base_facts(base: Package) -> dict[str, Any]:
    """What a transform's validation flags compare against (Property table and Template)."""
    props: dict[str, Any] = {}
    table = base.get_table("Property")
    if table is not None:
        for name, value in table.rows:
            props[name] = value
    platform = base.summary.to_dict().get("platform") or "Intel"
    return {
        "product_code": (props.get("ProductCode") or "").upper() or None,
        "product_version": props.get("ProductVersion"),
        "upgrade_code": (props.get("UpgradeCode") or "").upper() or None,
        "language": props.get("ProductLanguage"),
        "platform": platform,
    }


def _version_parts(text: str | None) -> tuple[int, ...]:
    parts = []
    for piece in (text or "").split(".")[:4]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def check_applicability(info: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    """Reasons a transform's validation flags reject the base (empty list = applies)."""
    flags = set(info.get("validation") or [])
    reasons = []
    if "product" in flags and (info.get("target_product_code") or "").upper() != (facts["product_code"] or ""):
        reasons.append(f"targets product {info.get('target_product_code')}, the base is {facts['product_code']}")
    if "upgrade_code" in flags and (info.get("upgrade_code") or "").upper() != (facts["upgrade_code"] or ""):
        reasons.append(f"requires upgrade code {info.get('upgrade_code')}, the base has {facts['upgrade_code']}")
    if "language" in flags:
        want = (info.get("languages") or [0])[0]
        have = facts.get("language")
        if want and have not in (None, "") and str(want) != str(have):
            reasons.append(f"requires language {want}, the base has {have}")
    if "platform" in flags:
        want = info.get("platform") or "Intel"
        if want.lower() != (facts.get("platform") or "Intel").lower():
            reasons.append(f"requires platform {want}, the base is {facts.get('platform')}")
    fields = 3 if "update_version" in flags else 2 if "minor_version" in flags else 1 if "major_version" in flags else 0
    if fields:
        installed = _version_parts(facts.get("product_version"))[:fields]
        target = _version_parts(info.get("target_product_version"))[:fields]
        relations = {
            "new_less_base_version": installed < target,
            "new_less_equal_base_version": installed <= target,
            "new_equal_base_version": installed == target,
            "new_greater_equal_base_version": installed >= target,
            "new_greater_base_version": installed > target,
        }
        chosen = [r for r in relations if r in flags] or ["new_equal_base_version"]
        for relation in chosen:
            if not relations[relation]:
                reasons.append(f"version check {relation}: base {facts.get('product_version')} vs transform target "
                               f"{info.get('target_product_version')} (first {fields} fields)")
    return reasons


@dataclass
class FileRowChange:
    """A File row as a patch's transforms leave it: the values they set, merged in order."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    op: str = OP_UPDATE  # insert when any transform inserts it

    @property
    def changed_columns(self) -> list[str]:
        return sorted(k for k in self.values if k != "File")


def merge_file_rows(changes: Iterable[tuple[Transform, TableChanges]], where: str = "") -> \
        tuple[dict[str, FileRowChange], list[Finding]]:
    """The File rows the transforms insert or update, by File key, and what could not be read.

    A row whose key is not a string cannot name a file: it is an error finding
    (fail closed: the delivery has a part that could not be read).
    """
    rows: dict[str, FileRowChange] = {}
    findings: list[Finding] = []
    for t, change in changes:
        if change.table != "File":
            continue
        for rc in change.rows:
            if rc.op not in (OP_INSERT, OP_UPDATE):
                continue
            key = rc.key[0] if rc.key else None
            if not isinstance(key, str):
                findings.append(Finding(f"{where} > {t.name} > File" if where else f"{t.name} > File",
                                        f"a row has the key {key!r}, not a file key", Level.ERROR))
                continue
            row = rows.setdefault(key, FileRowChange(key))
            row.values.update(rc.values)
            if rc.op == OP_INSERT:
                row.op = OP_INSERT
        for issue in change.issues:
            findings.append(Finding(f"{where} > {t.name} > File" if where else f"{t.name} > File", issue))
    return rows, findings


class Msp:
    """An opened patch package."""

    def __init__(self, pkg: Package):
        if pkg.kind != "msp":
            raise UsageError(f"not a patch (.msp) but a {pkg.kind}", pkg.path)
        self.pkg = pkg
        self.path = pkg.path
        summary = pkg.summary.to_dict()
        self.patch_code = summary.get("patch_code")
        self.obsoleted = summary.get("obsoleted_patch_codes") or []
        self.target_product_codes = summary.get("target_product_codes") or []
        names = summary.get("transforms") or []
        storages = {s.name: s for s in pkg.storages}
        self.transforms: list[Transform] = []
        self.issues: list[str] = []
        for name in names:
            storage = storages.get(name)
            if storage is None:
                raise PatchError(f"summary lists transform {name!r} but the patch has no such substorage", self.path)
            self.transforms.append(Transform(pkg.cfb, storage, name, self.path, pkg.limits))
        unlisted = sorted(set(storages) - set(names))
        if unlisted:
            self.issues.append(f"substorages not listed in the summary: {', '.join(unlisted)}")
        self.pairs = self._pair()

    def _pair(self) -> list[TransformPair]:
        by_name = {t.name: t for t in self.transforms}
        pairs = []
        for t in self.transforms:
            if t.name.startswith("#"):
                if t.name[1:] not in by_name:
                    pairs.append(TransformPair(t, None))
                    self.issues.append(f"patch transform {t.name!r} has no main transform {t.name[1:]!r}")
                continue
            partner = by_name.get("#" + t.name)
            if partner is None:
                self.issues.append(f"transform {t.name!r} has no '#{t.name}' partner")
            pairs.append(TransformPair(t, partner))
        return pairs

    # -- the patch's own tables -----------------------------------------------
    def metadata_rows(self) -> list[dict[str, Any]]:
        table = self.pkg.get_table("MsiPatchMetadata")
        return table.records() if table is not None else []

    def metadata(self) -> dict[str, Any]:
        """Standard metadata (Company NULL) by property name; vendor rows keyed ``Company/Property``."""
        out: dict[str, Any] = {}
        for row in self.metadata_rows():
            if "Property" not in row:
                raise PatchError("table 'MsiPatchMetadata' has no Property column", self.path)
            key = row["Property"] if row.get("Company") is None else f"{row['Company']}/{row['Property']}"
            out[key] = row.get("Value")
        return out

    def sequence_rows(self) -> list[dict[str, Any]]:
        table = self.pkg.get_table("MsiPatchSequence")
        return table.records() if table is not None else []

    def changes(self, base_schemas: Any = None) -> list[tuple[Transform, TableChanges]]:
        """Every table change of every transform, in application order."""
        return [(t, c) for t in self.transforms for c in t.changes(base_schemas)]

    def file_rows(self, where: str = "") -> tuple[dict[str, FileRowChange], list[Finding]]:
        """The File rows the patch inserts or updates (see :func:`merge_file_rows`)."""
        return merge_file_rows(self.changes(), where)

    # -- applying ---------------------------------------------------------------
    def apply_to(self, view: PatchedDatabase) -> list[dict[str, Any]]:
        """Apply every pair whose validation passes against the base; report each decision."""
        facts = base_facts(view.base)
        decisions = []
        for pair in self.pairs:
            reasons = check_applicability(pair.main.info, facts)
            entry = {"transform": pair.name, "applied": not reasons, "reasons": reasons}
            if not reasons:
                for t in pair.transforms:
                    view.apply(t, f"{_base_name(self.path)}:{t.name}", origin=self.pkg)
            else:
                view.skipped.append({"patch": self.path, **entry})
            decisions.append(entry)
        return decisions

    # -- payload ----------------------------------------------------------------
    def cabinet_streams(self) -> list[str]:
        """Names of the embedded cabinet streams the patch's Media rows point to (de-duplicated)."""
        names: list[str] = []
        for media in self.media_rows():
            cab = media.get("Cabinet")
            if not isinstance(cab, str):  # a transform may redefine Media with other column kinds
                continue
            if cab.startswith("#") and cab[1:] not in names:
                names.append(cab[1:])
        return names

    def media_rows(self, base_schemas=None) -> list[dict[str, Any]]:
        rows = []
        for t in self.transforms:
            for change in t.changes(base_schemas):
                if change.table == "Media":
                    for rc in change.rows:
                        if rc.op in (OP_INSERT, OP_UPDATE):
                            rows.append({**rc.values, "@transform": t.name})
        return rows

    def patch_package_rows(self, base_schemas: Any = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for t in self.transforms:
            for change in t.changes(base_schemas):
                if change.table == "PatchPackage":
                    rows.extend({**rc.values, "@transform": t.name} for rc in change.rows if rc.op == OP_INSERT)
        return rows

    def open_cabinet(self, stream: str) -> Cabinet:
        info = self.pkg.find_stream(stream)
        if info is None:
            raise PatchError(f"Media row names cabinet #{stream} but the patch has no such stream", self.path)
        return Cabinet.open(self.pkg.open_stream(stream), f"{_base_name(self.path)} > {stream}",
                            limits=self.pkg.limits)


def apply_patches_and_transforms(base: Package, patches=(), transforms=()) -> PatchedDatabase:
    """The base with ``.mst`` files then ``.msp`` files applied, in order (Windows applies transforms
    when the product is installed and patches afterwards).  The packages opened here are closed
    with the view (:meth:`PatchedDatabase.close`)."""
    import os

    from msitools.db.package import open_package

    view = PatchedDatabase(base)
    try:
        for path in transforms:
            pkg = open_package(path, base.limits)
            view.keep_open(pkg)
            if pkg.kind != "mst":
                raise UsageError(f"a transform (.mst) is needed here, this is a {pkg.kind}", path, HINT_NEEDS_TRANSFORM)
            view.apply(Transform(pkg.cfb, pkg.cfb.root, os.path.basename(path), path, pkg.limits),
                       os.path.basename(path), origin=pkg)
        for path in patches:
            pkg = open_package(path, base.limits)
            view.keep_open(pkg)
            if pkg.kind != "msp":
                raise UsageError(f"a patch (.msp) is needed here, this is a {pkg.kind}", path, HINT_NEEDS_PATCH)
            result = Msp(pkg).apply_to(view)
            view.decisions.append({"patch": path, "transforms": result})
            if not any(d["applied"] for d in result):
                reasons = "; ".join(f"{d['transform']}: {', '.join(d['reasons'])}" for d in result)
                raise PatchError(f"the patch does not apply to {base.path} ({reasons})", path)
    except BaseException:
        view.close()
        raise
    return view


def _base_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]
