"""Patches (.msp): transform pairs, applicability, metadata, payload cabinets and the patch report.

An .msp holds its own small database (MsiPatchMetadata, MsiPatchSequence),
the embedded cabinet stream(s), and for every target a pair of transform
substorages listed in its summary's Last Saved By: ``T`` (the product diff)
then ``#T`` (the patch plumbing: Media, PatchPackage, File sequence numbers,
Patch/MsiPatchHeaders for deltas).  FORMATS.md §3.7 and §4.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from msitools.cab import Cabinet
from msitools.patch.delta import is_delta, parse_delta
from msitools.db.directory import long_file_name, resolve_directories
from msitools.errors import MsiToolsError, PatchError, UsageError
from msitools.db.package import Package
from msitools.db.patched import PatchedDatabase
from msitools.db.transform import OP_DELETE, OP_INSERT, OP_UPDATE, TableChanges, Transform

PATCH_ADDED = 0x1000


@dataclass
class TransformPair:
    main: Transform
    plumbing: "Transform | None"

    @property
    def name(self) -> str:
        return self.main.name

    @property
    def transforms(self) -> "list[Transform]":
        return [self.main] + ([self.plumbing] if self.plumbing is not None else [])


def base_facts(base: Package) -> "dict[str, Any]":
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


def _version_parts(text: "str | None") -> "tuple[int, ...]":
    parts = []
    for piece in (text or "").split(".")[:4]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def check_applicability(info: "dict[str, Any]", facts: "dict[str, Any]") -> "list[str]":
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

    def _pair(self) -> "list[TransformPair]":
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
    def metadata_rows(self) -> "list[dict[str, Any]]":
        table = self.pkg.get_table("MsiPatchMetadata")
        return table.records() if table is not None else []

    def metadata(self) -> "dict[str, Any]":
        """Standard metadata (Company NULL) by property name; vendor rows keyed ``Company/Property``."""
        out: dict[str, Any] = {}
        for row in self.metadata_rows():
            if "Property" not in row:
                raise PatchError("table 'MsiPatchMetadata' has no Property column", self.path)
            key = row["Property"] if row.get("Company") is None else f"{row['Company']}/{row['Property']}"
            out[key] = row.get("Value")
        return out

    def sequence_rows(self) -> "list[dict[str, Any]]":
        table = self.pkg.get_table("MsiPatchSequence")
        return table.records() if table is not None else []

    # -- applying ---------------------------------------------------------------
    def apply_to(self, view: PatchedDatabase) -> "list[dict[str, Any]]":
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
    def cabinet_streams(self) -> "list[str]":
        """Names of the embedded cabinet streams the patch's Media rows point to (de-duplicated)."""
        names: list[str] = []
        for media in self.media_rows():
            cab = media.get("Cabinet")
            if not isinstance(cab, str):  # a transform may redefine Media with other column kinds
                continue
            if cab.startswith("#") and cab[1:] not in names:
                names.append(cab[1:])
        return names

    def media_rows(self, base_schemas=None) -> "list[dict[str, Any]]":
        rows = []
        for t in self.transforms:
            for change in t.changes(base_schemas):
                if change.table == "Media":
                    for rc in change.rows:
                        if rc.op in (OP_INSERT, OP_UPDATE):
                            rows.append({**rc.values, "@transform": t.name})
        return rows

    def patch_package_rows(self, base_schemas=None) -> "list[dict[str, Any]]":
        rows = []
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
                raise UsageError(f"--transform needs an .mst, this is a {pkg.kind}", path)
            view.apply(Transform(pkg.cfb, pkg.cfb.root, os.path.basename(path), path, pkg.limits),
                       os.path.basename(path), origin=pkg)
        for path in patches:
            pkg = open_package(path, base.limits)
            view.keep_open(pkg)
            if pkg.kind != "msp":
                raise UsageError(f"--patch needs an .msp, this is a {pkg.kind}", path)
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


# -- the report ---------------------------------------------------------------------
def _changes_for(msp: Msp, base_schemas) -> "list[tuple[Transform, TableChanges]]":
    out = []
    for t in msp.transforms:
        for change in t.changes(base_schemas):
            out.append((t, change))
    return out


def _delta_header_streams(msp: Msp, changes) -> "dict[tuple[str, Any], dict[str, Any]]":
    """Patch rows by (File_, Sequence), with their header decoded from Patch.Header / MsiPatchHeaders."""
    headers_by_ref: dict[str, tuple[Transform, str]] = {}
    for t, change in changes:
        if change.table == "MsiPatchHeaders":
            for rc in change.rows:
                if rc.op == OP_INSERT and rc.values.get("Header"):
                    if "StreamRef" not in rc.values:
                        raise PatchError(f"transform {t.name!r}: MsiPatchHeaders has no StreamRef column", msp.path)
                    headers_by_ref[rc.values["StreamRef"]] = (t, rc.values["Header"])
    out: dict[tuple[str, Any], dict[str, Any]] = {}
    for t, change in changes:
        if change.table != "Patch":
            continue
        for rc in change.rows:
            if rc.op != OP_INSERT:
                continue
            row = dict(rc.values)
            header_source = None
            if row.get("Header"):
                header_source = (t, row["Header"])
            elif row.get("StreamRef_") and row["StreamRef_"] in headers_by_ref:
                header_source = headers_by_ref[row["StreamRef_"]]
            if header_source is not None:
                transform, stream = header_source
                data = transform.read_stream(stream)
                if data is None:
                    row["header"] = None
                    row["header_issue"] = f"header stream {stream!r} missing from transform {transform.name!r}"
                else:
                    try:
                        row["header"] = parse_delta(data, f"{transform.name}/{stream}").to_dict()
                    except MsiToolsError as exc:
                        row["header"] = None
                        row["header_issue"] = exc.message
            out[(row.get("File_"), row.get("Sequence"))] = row
    return out


def cabinet_members(msp: Msp) -> "tuple[list[dict[str, Any]], list[str]]":
    """Every member of every patch cabinet, each classified as a whole file, a delta or empty."""
    out: list[dict[str, Any]] = []
    issues: list[str] = []
    for stream in msp.cabinet_streams():
        try:
            cab = msp.open_cabinet(stream)
        except MsiToolsError as exc:
            issues.append(str(exc))
            continue
        with cab:
            members = cab.list_members()
            for member, chunks in cab.iter_members():
                entry: dict[str, Any] = {
                    "cabinet": stream, "name": member.name, "size": member.size,
                    "date": member.date_time.isoformat() if member.date_time else None,
                    "compression": member.compression,
                }
                try:
                    head = b""
                    for chunk in chunks:
                        if len(head) < 64 * 1024:
                            head += chunk[:64 * 1024 - len(head)]
                    if member.size == 0:
                        entry["kind"] = "empty"
                    elif is_delta(head):
                        entry["kind"] = "delta"
                        try:
                            entry["delta"] = parse_delta(head, f"{stream} > {member.name}").to_dict()
                        except MsiToolsError as exc:
                            entry["delta"] = None
                            entry["delta_issue"] = exc.message
                    else:
                        entry["kind"] = "file"
                except MsiToolsError as exc:
                    entry["kind"] = "unreadable"
                    entry["error"] = exc.message
                out.append(entry)
            if not members:
                issues.append(f"cabinet {stream} has no members")
    return out, issues


def patch_report(msp: Msp, base: "Package | None" = None) -> "dict[str, Any]":
    """Everything a reviewer needs to know about a patch (the ``msitools patch`` JSON)."""
    view = PatchedDatabase(base) if base is not None else None
    decisions = msp.apply_to(view) if view is not None else []
    base_schemas = view.schemas() if view is not None else None
    # decode each transform against the base as it was before the patch (changes are per transform)
    base_only = {n: base.database.schema(n) for n in base.database.table_names} if base is not None else None
    changes = []
    for t in msp.transforms:
        try:
            decoded = t.changes(base_only)
        except MsiToolsError:
            decoded = t.changes(base_schemas) if base_schemas is not None else t.changes()
        changes.extend((t, c) for c in decoded)
    transforms = []
    for pair in msp.pairs:
        for t in pair.transforms:
            info = t.info
            decision = next((d for d in decisions if d["transform"] == pair.name), None)
            transforms.append({
                "name": t.name,
                "role": "patch" if t.name.startswith("#") else "product",
                **{k: info.get(k) for k in ("target_product_code", "target_product_version", "upgrade_product_code",
                                            "upgrade_product_version", "upgrade_code", "platform", "languages",
                                            "validation", "error_conditions")},
                "tables": [c.table for tt, c in changes if tt is t],
                "applies_to_base": (decision["applied"] if decision else None),
                "reasons": (decision["reasons"] if decision else []),
            })
    members, cab_issues = cabinet_members(msp)
    members_by_name = {m["name"]: m for m in members}
    deltas = _delta_header_streams(msp, changes)
    files = _files_changed(changes, view, members_by_name, deltas)
    other: dict[str, dict[str, Any]] = {}
    for t, change in changes:
        if change.table in ("File",):
            continue
        entry = other.setdefault(change.table, {"insert": 0, "update": 0, "delete": 0, "action": None,
                                                "schema": change.schema_source, "rows": [], "issues": []})
        if change.action:
            entry["action"] = change.action
        for rc in change.rows:
            entry[rc.op] += 1
            entry["rows"].append({"@op": rc.op, "@transform": t.name, **rc.values})
        entry["issues"].extend(change.issues)
        if change.raw is not None:
            entry["raw_records"] = change.raw.hex()
    return {
        "path": msp.path,
        "patch_code": msp.patch_code,
        "obsoleted_patch_codes": msp.obsoleted,
        "target_product_codes": msp.target_product_codes,
        "metadata": msp.metadata(),
        "metadata_rows": msp.metadata_rows(),
        "sequence": msp.sequence_rows(),
        "transforms": transforms,
        "media": msp.media_rows(base_only),
        "patch_package": msp.patch_package_rows(base_only),
        "cabinets": [{"stream": s, "members": [m for m in members if m["cabinet"] == s]}
                     for s in msp.cabinet_streams()],
        "files_changed": files,
        "tables": other,
        "base": base.path if base is not None else None,
        "applied": decisions,
        "issues": msp.issues + cab_issues + (list(_view_issues(view)) if view is not None else []),
    }


def _view_issues(view: PatchedDatabase) -> Iterable[str]:
    for record in view.applied:
        for issue in record.issues:
            yield f"{record.label}: {issue}"


def _files_changed(changes, view: "PatchedDatabase | None", members: dict, deltas: dict) -> "list[dict[str, Any]]":
    merged: dict[str, dict[str, Any]] = {}
    ops: dict[str, str] = {}
    for t, change in changes:
        if change.table != "File":
            continue
        for rc in change.rows:
            if rc.op == OP_DELETE:
                continue
            key = rc.key[0] if rc.key else None
            merged.setdefault(key, {}).update(rc.values)
            ops[key] = OP_INSERT if rc.op == OP_INSERT or ops.get(key) == OP_INSERT else OP_UPDATE
    tree = None
    component_dirs: dict[str, str] = {}
    patched_files: dict[str, dict] = {}
    if view is not None:
        tree = resolve_directories((r.get("Directory"), r.get("Directory_Parent"), r.get("DefaultDir"))
                                   for r in view.records("Directory"))
        if view.has_table("Component"):
            comp = view.table("Component")
            names = comp.column_names
            for row in comp.iter_rows(False):
                rec = dict(zip(names, row.values))
                component_dirs[rec.get("Component")] = rec.get("Directory_")
        if view.has_table("File"):
            ft = view.table("File")
            for key, row in ft.rows.items():
                patched_files[key[0]] = dict(zip(ft.column_names, row.values))
    base_keys = _base_keys(view) if view is not None else set()
    out = []
    for key, values in merged.items():
        final = patched_files.get(key, values)
        component = final.get("Component_")
        entry: dict[str, Any] = {
            "file": key,
            "op": ops[key] if view is None else (OP_INSERT if key not in base_keys else OP_UPDATE),
            "file_name": long_file_name(final.get("FileName")) if final.get("FileName") else None,
            "component": component,
            "directory": None,
            "size": final.get("FileSize"),
            "version": final.get("Version"),
            "language": final.get("Language"),
            "attributes": final.get("Attributes"),
            "sequence": final.get("Sequence"),
            "changed_columns": sorted(k for k in values if k != "File"),
        }
        if tree is not None and component in component_dirs:
            entry["directory"] = "\\".join(tree.path_of(component_dirs[component]))
        patch_rows = [row for (file_key, _seq), row in deltas.items() if file_key == key]
        member = members.get(key)
        if patch_rows:
            entry["payload"] = "delta"
            entry["patch"] = [{k: v for k, v in row.items() if k not in ("Header",)} for row in patch_rows]
        elif member is not None:
            entry["payload"] = "delta" if member.get("kind") == "delta" else "whole"
        else:
            entry["payload"] = "none"
        if member is not None:
            entry["cabinet"] = member["cabinet"]
            entry["member_size"] = member["size"]
            if member.get("delta"):
                entry["delta"] = member["delta"]
        out.append(entry)
    return out


def _base_keys(view: PatchedDatabase) -> "set[str]":
    if not view.db.has_table("File"):
        return set()
    return {row[0] for row in view.db.table("File").rows}
