"""The security review: what a package (or what a patch adds or changes) will run and touch.

* signatures: the package's Authenticode status and every payload PE's;
* custom actions decoded by type (pymsi's catalogue, through :mod:`msitools.base._pymsi`),
  with source, target, where they are scheduled and under which condition, and the
  SHA-256 of embedded binaries and scripts;
* services installed (ServiceInstall) or controlled (ServiceControl);
* registry values written under sensitive keys (Run, Services, policies, ...);
* files installed into system folders.

For a patch, only what it inserts or updates counts: rows are taken from its
transforms (or, with a base, from the patched view, rows whose operation is not
``none``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from msitools.base._pymsi import custom_action_module
from msitools.db.directory import long_file_name
from msitools.db.package import Package
from msitools.db.patched import PatchedDatabase
from msitools.errors import MsiToolsError
from msitools.limits import DEFAULT_LIMITS, Limits
from msitools.patch.msp import Msp
from msitools.patch.payload import NOT_IN_CABINET, PatchPayload
from msitools.payload.catalogs import CatalogCollector, has_catalogs
from msitools.payload.files import list_package_files
from msitools.payload.items import KIND_EMPTY, PayloadItem
from msitools.payload.package import iter_package_payload
from msitools.pe.authenticode_msi import safe_signature_report
from msitools.pe.trust import CATALOG_ALTERED, UNSIGNED

SEQUENCE_TABLES = ("InstallExecuteSequence", "InstallUISequence", "AdminExecuteSequence", "AdminUISequence",
                   "AdvtExecuteSequence", "AdvtUISequence")
SYSTEM_FOLDERS = {"SystemFolder", "System64Folder", "System16Folder", "WindowsFolder", "WindowsVolume",
                  "FontsFolder", "CommonFilesFolder", "CommonFiles64Folder", "StartupFolder"}
REGISTRY_ROOTS: dict[Any, str] = {-1: "HKCU/HKLM (per-user or per-machine)", 0: "HKCR", 1: "HKCU", 2: "HKLM", 3: "HKU"}
SENSITIVE_KEYS = [
    ("\\currentversion\\run", "autostart (Run/RunOnce)"),
    ("\\currentversion\\runonce", "autostart (Run/RunOnce)"),
    ("\\currentversion\\runservices", "autostart (RunServices)"),
    ("currentcontrolset\\services", "services"),
    ("\\policies\\", "policies"),
    ("software\\policies", "policies"),
    ("\\winlogon", "Winlogon"),
    ("image file execution options", "Image File Execution Options (debugger hijack)"),
    ("appinit_dlls", "AppInit_DLLs"),
    ("\\shellserviceobjectdelayload", "shell service objects"),
    ("\\explorer\\shellexecutehooks", "shell execute hooks"),
    ("\\browser helper objects", "browser helper objects"),
    ("currentcontrolset\\control\\session manager", "Session Manager"),
    ("\\lsa", "LSA"),
    ("\\scheduled tasks", "scheduled tasks"),
]
SERVICE_CONTROL_EVENTS = [(0x1, "start on install"), (0x2, "stop on install"), (0x8, "delete on install"),
                          (0x10, "start on uninstall"), (0x20, "stop on uninstall"), (0x80, "delete on uninstall")]
SERVICE_START: dict[Any, str] = {0: "boot", 1: "system", 2: "automatic", 3: "on demand", 4: "disabled"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Source:
    """Where rows come from: a package, a patched view (changed rows only), or a patch's transforms."""

    rows: Callable[[str], list[tuple[dict, str]]]  # table -> [(record, op)]
    binary: Callable[[str], bytes | None]  # Binary.<key> stream data
    scope: str


def _package_source(pkg: Package) -> _Source:
    def rows(name: str):
        table = pkg.get_table(name)
        return [(r, "none") for r in table.records()] if table is not None else []

    def binary(key: str):
        info = pkg.find_stream(f"Binary.{key}")
        return pkg.read_stream(info.name) if info is not None else None

    return _Source(rows, binary, "package")


def _view_source(view: PatchedDatabase) -> _Source:
    def rows(name: str):
        if not view.has_table(name):
            return []
        table = view.table(name)
        names = table.column_names
        return [(dict(zip(names, (r.base if r.deleted else r.values) or ())), r.op) for r in table.iter_rows()
                if r.op != "none"]

    def binary(key: str):
        table = view.table("Binary") if view.has_table("Binary") else None
        row = table.rows.get((key,)) if table is not None else None
        if row is None:
            return None
        origin = view.origin_of(row)
        for candidate in [origin] + [view.base]:
            info = candidate.find_stream(f"Binary.{key}")
            if info is not None:
                return candidate.read_stream(info.name)
        for record in view.applied:  # binary cells added by a transform live in its storage
            data = record.transform.read_stream(f"Binary.{key}")
            if data is not None:
                return data
        return None

    return _Source(rows, binary, "changes applied by the patch/transform")


def _patch_source(msp) -> _Source:
    changes = [(t, c) for t in msp.transforms for c in t.changes()]

    def rows(name: str) -> list[tuple[dict[str, Any], str]]:
        out: list[tuple[dict[str, Any], str]] = []
        for _t, change in changes:
            if change.table == name:
                out.extend((dict(rc.values), rc.op) for rc in change.rows if rc.op in ("insert", "update"))
        return out

    def binary(key: str):
        for t, _ in changes:
            data = t.read_stream(f"Binary.{key}")
            if data is not None:
                return data
        return None

    return _Source(rows, binary, "rows the patch inserts or updates (no base given)")


# -- sections -----------------------------------------------------------------------------
def _schedules(source: _Source) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for table in SEQUENCE_TABLES:
        for rec, _op in source.rows(table):
            action = rec.get("Action")
            if action:
                out.setdefault(action, []).append({"table": table, "sequence": rec.get("Sequence"),
                                                   "condition": rec.get("Condition")})
    for rec, _op in source.rows("ControlEvent"):
        if rec.get("Event") == "DoAction" and rec.get("Argument"):
            out.setdefault(rec["Argument"], []).append({"table": "ControlEvent", "dialog": rec.get("Dialog_"),
                                                        "control": rec.get("Control_"),
                                                        "condition": rec.get("Condition")})
    return out


def custom_actions(source: _Source) -> list[dict[str, Any]]:
    ca = custom_action_module()
    schedules = _schedules(source)
    properties = {rec.get("Property"): rec.get("Value") or "" for rec, _ in source.rows("Property")}
    out = []
    for rec, op in source.rows("CustomAction"):
        action = rec.get("Action")
        type_value = rec.get("Type") or 0
        try:
            info = ca.decode_custom_action_type(type_value, rec.get("ExtendedType") or 0).to_dict()
        except Exception as exc:  # pymsi rejects out-of-range words: report, do not fail the review
            info = {"kind": "invalid", "name": f"undecodable type {type_value}: {exc}", "source_kind": None,
                    "source_table": None, "execution": None, "capabilities": []}
        entry: dict[str, Any] = {
            "action": action, "type": type_value, "type_hex": f"0x{type_value & 0xFFFF:04x}",
            "kind": info.get("kind"), "description": info.get("name"), "execution": info.get("execution"),
            "flags": info.get("flags", []), "capabilities": info.get("capabilities", []),
            "source": rec.get("Source"), "source_kind": info.get("source_kind"), "target": rec.get("Target"),
            "scheduled": schedules.get(action, []), "@op": op,
        }
        if info.get("source_table") == "Binary" and rec.get("Source"):
            data = source.binary(rec["Source"])
            if data is None:
                entry["embedded"] = {"stream": f"Binary.{rec['Source']}", "missing": True}
            else:
                entry["embedded"] = {"stream": f"Binary.{rec['Source']}", "size": len(data), "sha256": _sha256(data),
                                     "is_pe": data[:2] == b"MZ"}
                if data[:2] == b"MZ":
                    entry["embedded"]["signature"] = _pe_signature(data, f"Binary.{rec['Source']}")
        number = info.get("type_number")
        if number in (37, 38) and rec.get("Target"):  # inline script: the text is in Target
            entry["script_sha256"] = _sha256(rec["Target"].encode("utf-8"))
        elif number in (53, 54) and rec.get("Source") in properties:  # script held in a property
            entry["script_sha256"] = _sha256(properties[rec["Source"]].encode("utf-8"))
        out.append(entry)
    return out


def services(source: _Source) -> dict[str, list[dict]]:
    installed = []
    for rec, op in source.rows("ServiceInstall"):
        installed.append({"service": rec.get("Name"), "display_name": rec.get("DisplayName"),
                          "start": SERVICE_START.get(rec.get("StartType"), rec.get("StartType")),
                          "account": rec.get("StartName"), "arguments": rec.get("Arguments"),
                          "component": rec.get("Component_"), "@op": op})
    controlled = []
    for rec, op in source.rows("ServiceControl"):
        events = rec.get("Event") or 0
        names = [n for bit, n in SERVICE_CONTROL_EVENTS if events & bit]
        controlled.append({"service": rec.get("Name"), "events": names,
                           "wait": bool(rec.get("Wait")), "arguments": rec.get("Arguments"),
                           "component": rec.get("Component_"), "@op": op})
    return {"installed": installed, "controlled": controlled}


def sensitive_registry(source: _Source) -> list[dict]:
    out = []
    for rec, op in source.rows("Registry"):
        key = rec.get("Key") or ""
        lowered = "\\" + key.lower().strip("\\") + "\\"
        reasons = sorted({why for needle, why in SENSITIVE_KEYS if needle in lowered})
        if reasons:
            out.append({"registry": rec.get("Registry"), "root": REGISTRY_ROOTS.get(rec.get("Root"), rec.get("Root")),
                        "key": key, "name": rec.get("Name"), "value": rec.get("Value"),
                        "component": rec.get("Component_"), "why": reasons, "@op": op})
    return out


def system_files(source: _Source) -> list[dict]:
    parents = {rec.get("Directory"): (rec.get("Directory_Parent"), rec.get("DefaultDir"))
               for rec, _ in _all_rows(source, "Directory")}
    component_dir = {rec.get("Component"): rec.get("Directory_") for rec, _ in _all_rows(source, "Component")}
    out = []
    for rec, op in source.rows("File"):
        directory = component_dir.get(rec.get("Component_"))
        chain, node, seen = [], directory, set()
        while node and node not in seen:
            seen.add(node)
            chain.append(node)
            node = parents.get(node, (None, None))[0]
        hits = [d.split(".")[0] for d in chain if d.split(".")[0] in SYSTEM_FOLDERS]
        if hits:
            out.append({"file": rec.get("File"), "name": long_file_name(rec.get("FileName")) if rec.get("FileName")
                        else rec.get("File"), "directory": directory, "system_folder": hits[0],
                        "component": rec.get("Component_"), "@op": op})
    return out


def _all_rows(source: _Source, table: str):
    return source.rows(table)


def _pe_signature(data: bytes, name: str) -> dict[str, Any]:
    from msitools.pe.authenticode_pe import signature_summary  # signify is loaded only when needed

    return signature_summary(data, name)


def _item_signature(item: PayloadItem, limits: Limits, catalogs: CatalogCollector | None = None,
                    key: Any = None) -> dict[str, Any] | None:
    """The signature of a payload PE image (None: not a PE image); unreadable bytes say so."""
    try:
        spool = item.spool()
    except MsiToolsError as exc:
        return {"status": "unreadable", "reason": exc.message}
    with spool:
        if catalogs is not None:
            folder = tuple(item.file.path[:-1]) if item.file is not None else None
            where = " > ".join([*item.source.split(" > ")[:-1], item.name])
            catalogs.add(key, item.name, folder, where, spool)
        if spool.head(2) != b"MZ":
            return None
        if spool.size > limits.pe_read_size:
            return {"status": "unreadable", "reason": f"PE image larger than the pe_read_size limit "
                                                      f"({limits.pe_read_size} bytes)"}
        return _pe_signature(spool.read(limits.pe_read_size), item.name)


def payload_signatures(pkg: Package, view: PatchedDatabase | None = None,
                       only_changed: bool = False) -> list[dict[str, Any]]:
    """The Authenticode status of every PE image the (patched) package installs, catalogs counted.

    An unsigned image whose hash a delivered catalog lists (directly, or through a
    side-by-side manifest the catalog lists) is ``catalog_signed``; one a catalog or
    manifest names with another hash is ``catalog_altered`` (:mod:`msitools.payload.catalogs`).
    """
    out: list[dict[str, Any]] = []
    listing = list_package_files(pkg, view)
    catalogs = CatalogCollector(limits=pkg.limits) if has_catalogs([f.file_name for f in listing.files]) else None
    for item in iter_package_payload(pkg, view, listing):
        f = item.file
        assert f is not None
        if only_changed and f.op == "none":
            continue
        if item.error is not None:
            out.append({"file": f.display_path, "status": "unreadable", "reason": item.error, "source": item.source})
            continue
        entry = {"file": f.display_path, "source": item.source}
        signature = _item_signature(item, pkg.limits, catalogs, id(entry))
        entry.update(signature or {"status": None})
        out.append(entry)
    verdicts = catalogs.finish() if catalogs is not None else {}
    for entry in out:
        verdict = verdicts.get(id(entry))
        if verdict is None:
            continue
        if entry.get("status") == UNSIGNED or verdict["status"] == CATALOG_ALTERED:
            entry.update(verdict)  # a PE image signed through a catalog, or any file a catalog proves altered
    return [e for e in out if e.get("status") is not None]  # PE images, and files a catalog proves altered


def patch_payload_signatures(msp: Msp) -> list[dict[str, Any]]:
    """The Authenticode status of every PE image in the patch's cabinets (``file`` is the member name)."""
    out: list[dict[str, Any]] = []
    walk = PatchPayload(msp)
    for item in walk:
        if item.kind == KIND_EMPTY or item.error == NOT_IN_CABINET:
            continue
        label = item.member.name if item.member is not None else item.key or item.name
        if item.error is not None:
            out.append({"file": label, "name": item.name, "status": "unreadable", "reason": item.error})
            continue
        signature = _item_signature(item, msp.pkg.limits)
        if signature is not None:
            out.append({"file": label, "name": item.name, "source": " > ".join(item.source.split(" > ")[:2]),
                        **signature})
    return out


def review(pkg: Package, view: PatchedDatabase | None = None) -> dict[str, Any]:
    """Review a package; with *view* (patches/transforms applied), only what they change."""
    if pkg.kind == "msp":
        msp = Msp(pkg)
        source = _patch_source(msp)
        payload = patch_payload_signatures(msp)
    elif view is not None:
        source = _view_source(view)
        payload = payload_signatures(pkg, view, only_changed=True)
    else:
        source = _package_source(pkg)
        payload = payload_signatures(pkg)
    signatures = [{"package": pkg.path, **_safe_signature(pkg)}]
    if view is not None:
        for _label, origin in view.origins.items():
            if origin is not pkg and all(s["package"] != origin.path for s in signatures):
                signatures.append({"package": origin.path, **_safe_signature(origin)})
    return {
        "path": pkg.path,
        "kind": pkg.kind,
        "scope": source.scope,
        "signatures": signatures,
        "payload_signatures": payload,
        "custom_actions": custom_actions(source),
        "services": services(source),
        "registry": sensitive_registry(source),
        "system_files": system_files(source),
    }


def review_cabinet(path: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Review a bare cabinet (with the rest of its set): the signature of every PE image it holds.

    A cabinet carries no tables, so no custom actions, services or registry; its own
    signature (a reserve area may hold one) is reported as not checked.
    """
    from msitools.payload.cabinet import CabinetPayload

    payload: list[dict[str, Any]] = []
    with CabinetPayload(path, limits=limits) as walk:
        own = walk.own_signature()
        for item in walk:
            where = " > ".join(item.found_in)
            if item.error is not None:
                payload.append({"file": item.name, "status": "unreadable", "reason": item.error, "source": where})
                continue
            signature = _item_signature(item, limits)
            if signature is not None:
                payload.append({"file": item.name, "source": where, **signature})
        notes = [f.message for f in walk.findings]
    return {"path": path, "kind": "cab", "scope": "cabinet", "signatures": [{"package": path, **own}],
            "payload_signatures": payload, "custom_actions": [], "services": {"installed": [], "controlled": []},
            "registry": [], "system_files": [], "notes": notes}


def _safe_signature(pkg: Package) -> dict[str, Any]:
    return safe_signature_report(pkg)
