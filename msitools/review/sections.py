"""The sections of a review, one function per concern, each reading rows from a :class:`~.sources.Source`.

Every entry carries ``@op`` (``none`` for a plain package, else what the patch or
transform does to the row) and, for custom actions, a ``risk`` rank (0 most serious):
deferred actions that run code as SYSTEM (no impersonation) first, property and
directory setters last.
"""
from __future__ import annotations

import hashlib
from typing import Any

from msitools.base._pymsi import custom_action_module
from msitools.db.directory import long_file_name
from msitools.review.sources import Source

SEQUENCE_TABLES = ("InstallExecuteSequence", "InstallUISequence", "AdminExecuteSequence", "AdminUISequence",
                   "AdvtExecuteSequence", "AdvtUISequence")
SYSTEM_FOLDERS = {"SystemFolder", "System64Folder", "System16Folder", "WindowsFolder", "WindowsVolume",
                  "FontsFolder", "CommonFilesFolder", "CommonFiles64Folder", "StartupFolder", "CommonAppDataFolder"}
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
CODE_KINDS = {"dll", "exe", "jscript", "vbscript"}
SECURITY_PROPERTIES = {
    "ALLUSERS": "per-machine (1) or per-user installation",
    "MSIINSTALLPERUSER": "per-user installation when ALLUSERS=2",
    "REBOOT": "restart behaviour (Force, Suppress, ReallySuppress)",
    "REBOOTPROMPT": "restart without asking (S)",
    "SecureCustomProperties": "public properties passed to the elevated (server) side",
    "AdminProperties": "properties passed to an administrative installation",
    "EnableUserControl": "all public properties passed to the server side",
    "MSIRESTARTMANAGERCONTROL": "Restart Manager use",
    "MSIUSEREALADMINDETECTION": "administrator detection",
    "ARPSYSTEMCOMPONENT": "hidden from Programs and Features",
    "ARPNOREMOVE": "cannot be removed from Programs and Features",
    "MsiHiddenProperties": "properties kept out of the log",
    "DISABLEROLLBACK": "rollback disabled",
}
UPGRADE_ATTRIBUTES = [(0x1, "migrate features"), (0x2, "only detect"), (0x4, "ignore remove failure"),
                      (0x100, "minimum version inclusive"), (0x200, "maximum version inclusive"),
                      (0x400, "languages exclusive")]
SCRIPT_STARTS = (b"sub ", b"function", b"var ", b"dim ", b"option ", b"'", b"//", b"wscript", b"on error", b"set ")
INI_ACTIONS: dict[Any, str] = {0: "add line", 1: "create line (only if absent)", 3: "add tag"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def schedules(source: Source) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for table in SEQUENCE_TABLES:
        for rec, _op in source.every(table):
            action = rec.get("Action")
            if action:
                out.setdefault(action, []).append({"table": table, "sequence": rec.get("Sequence"),
                                                   "condition": rec.get("Condition")})
    for rec, _op in source.every("ControlEvent"):
        if rec.get("Event") == "DoAction" and rec.get("Argument"):
            out.setdefault(rec["Argument"], []).append({"table": "ControlEvent", "dialog": rec.get("Dialog_"),
                                                        "control": rec.get("Control_"),
                                                        "condition": rec.get("Condition")})
    return out


def _risk(info: dict[str, Any]) -> int:
    kind = info.get("kind")
    capabilities = info.get("capabilities") or []
    if kind in CODE_KINDS and "runs without impersonation" in capabilities:
        return 0  # code that runs as LocalSystem
    if kind in CODE_KINDS and info.get("execution") in ("deferred", "rollback", "commit"):
        return 1
    if kind in CODE_KINDS:
        return 2
    if kind == "concurrent-install":
        return 3
    if kind in ("set-property", "set-directory"):
        return 5
    return 4


def _decode(type_value: int, extended: int) -> dict[str, Any]:
    try:
        return dict(custom_action_module().decode_custom_action_type(type_value, extended).to_dict())
    except Exception as exc:  # pymsi rejects out-of-range words: report, do not fail the review
        return {"kind": "invalid", "name": f"undecodable type {type_value}: {exc}", "source_kind": None,
                "source_table": None, "execution": None, "capabilities": [], "flags": []}


def how_it_runs(info: dict[str, Any]) -> list[str]:
    """The words a reader needs: "runs as SYSTEM (no impersonation)", deferred/rollback/commit, 64-bit script."""
    words = []
    if "runs without impersonation" in (info.get("capabilities") or []):
        words.append("runs as SYSTEM (no impersonation)")
    if info.get("execution") and info["execution"] != "immediate":
        words.append(str(info["execution"]))
    if "64-bit script" in (info.get("flags") or []):
        words.append("64-bit script")
    return words


def custom_actions(source: Source, signature: Any = None) -> list[dict[str, Any]]:
    """Custom actions, most serious first (table order within a rank). *signature*: bytes -> PE signature."""
    scheduled = schedules(source)
    properties = {rec.get("Property"): rec.get("Value") or "" for rec, _ in source.every("Property")}
    out = []
    for position, (rec, op) in enumerate(source.rows("CustomAction")):
        action = rec.get("Action")
        type_value = rec.get("Type") or 0
        info = _decode(type_value, rec.get("ExtendedType") or 0)
        entry: dict[str, Any] = {
            "action": action, "type": type_value, "type_hex": f"0x{type_value & 0xFFFF:04x}",
            "kind": info.get("kind"), "description": info.get("name"), "execution": info.get("execution"),
            "flags": info.get("flags", []), "capabilities": info.get("capabilities", []),
            "runs": how_it_runs(info), "as_system": "runs without impersonation" in (info.get("capabilities") or []),
            "source": rec.get("Source"), "source_kind": info.get("source_kind"), "target": rec.get("Target"),
            "scheduled": scheduled.get(action, []), "risk": _risk(info), "@op": op, "_position": position,
        }
        if info.get("source_table") == "Binary" and rec.get("Source"):
            data = source.binary(rec["Source"])
            if data is None:
                entry["embedded"] = {"stream": f"Binary.{rec['Source']}", "missing": True}
            else:
                entry["embedded"] = {"stream": f"Binary.{rec['Source']}", "size": len(data), "sha256": sha256(data),
                                     "is_pe": data[:2] == b"MZ"}
                if data[:2] == b"MZ" and signature is not None:
                    entry["embedded"]["signature"] = signature(data, f"Binary.{rec['Source']}")
        number = info.get("type_number")
        if number in (37, 38) and rec.get("Target"):  # inline script: the text is in Target
            entry["script_sha256"] = sha256(rec["Target"].encode("utf-8"))
        elif number in (53, 54) and rec.get("Source") in properties:  # script held in a property
            entry["script_sha256"] = sha256(properties[rec["Source"]].encode("utf-8"))
        out.append(entry)
    out.sort(key=lambda e: (e["risk"], e["_position"]))
    for entry in out:
        del entry["_position"]
    return out


def services(source: Source) -> dict[str, list[dict[str, Any]]]:
    installed = [{"service": rec.get("Name"), "display_name": rec.get("DisplayName"),
                  "start": SERVICE_START.get(rec.get("StartType"), rec.get("StartType")),
                  "account": rec.get("StartName"), "arguments": rec.get("Arguments"),
                  "component": rec.get("Component_"), "@op": op} for rec, op in source.rows("ServiceInstall")]
    controlled = []
    for rec, op in source.rows("ServiceControl"):
        events = rec.get("Event") or 0
        controlled.append({"service": rec.get("Name"), "events": [n for bit, n in SERVICE_CONTROL_EVENTS
                                                                  if events & bit],
                           "wait": bool(rec.get("Wait")), "arguments": rec.get("Arguments"),
                           "component": rec.get("Component_"), "@op": op})
    configured = [{"service": rec.get("Name"), "table": "MsiServiceConfig", "config_type": rec.get("ConfigType"),
                   "argument": rec.get("Argument"), "component": rec.get("Component_"), "@op": op}
                  for rec, op in source.rows("MsiServiceConfig")]
    configured += [{"service": rec.get("Name"), "table": "MsiServiceConfigFailureActions",
                    "command": rec.get("Command"), "actions": rec.get("Actions"),
                    "reboot_message": rec.get("RebootMessage"), "component": rec.get("Component_"), "@op": op}
                   for rec, op in source.rows("MsiServiceConfigFailureActions")]
    return {"installed": installed, "controlled": controlled, "configured": configured}


def sensitive_registry(source: Source) -> list[dict[str, Any]]:
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


def system_files(source: Source) -> list[dict[str, Any]]:
    parents = {rec.get("Directory"): rec.get("Directory_Parent") for rec, _ in source.every("Directory")}
    out = []
    for rec, op in source.rows("File"):
        directory = source.component_directory(rec.get("Component_"))
        chain, node, seen = [], directory, set()
        while node and node not in seen:
            seen.add(node)
            chain.append(node)
            node = parents.get(node)
        hits = [d.split(".")[0] for d in chain if str(d).split(".")[0] in SYSTEM_FOLDERS]
        if hits:
            out.append({"file": rec.get("File"), "name": long_file_name(rec.get("FileName")) if rec.get("FileName")
                        else rec.get("File"), "path": source.file_path(rec), "directory": directory,
                        "system_folder": hits[0], "component": rec.get("Component_"), "@op": op})
    return out


def environment(source: Source) -> list[dict[str, Any]]:
    """Environment variables: the prefix of Name says how (``=`` set, ``+`` only if absent, ``-`` removed
    on uninstall, ``!`` removed on install, ``*`` system-wide); ``[~]`` in Value appends or prepends."""
    out = []
    for rec, op in source.rows("Environment"):
        raw = rec.get("Name") or ""
        prefix = raw[: len(raw) - len(raw.lstrip("=+-!*"))]
        value = rec.get("Value") or ""
        how = []
        if "*" in prefix:
            how.append("system-wide")
        else:
            how.append("per user")
        how += [w for flag, w in (("=", "set"), ("+", "set only if absent"), ("!", "removed on install"),
                                  ("-", "removed on uninstall")) if flag in prefix]
        if value.startswith("[~]"):
            how.append("appended to the current value")
        elif value.endswith("[~]"):
            how.append("prepended to the current value")
        out.append({"environment": rec.get("Environment"), "name": raw[len(prefix):], "value": rec.get("Value"),
                    "system_wide": "*" in prefix, "how": how, "component": rec.get("Component_"), "@op": op})
    return out


def upgrades(source: Source) -> dict[str, Any]:
    """Upgrade rows (other products this one finds, and removes unless only detected) and where
    RemoveExistingProducts is scheduled."""
    rows = []
    for rec, op in source.rows("Upgrade"):
        attributes = rec.get("Attributes") or 0
        words = [w for bit, w in UPGRADE_ATTRIBUTES if attributes & bit]
        rows.append({"upgrade_code": rec.get("UpgradeCode"), "version_min": rec.get("VersionMin"),
                     "version_max": rec.get("VersionMax"), "language": rec.get("Language"),
                     "attributes": words, "removes": not attributes & 0x2,
                     "action_property": rec.get("ActionProperty"), "@op": op})
    removal = schedules(source).get("RemoveExistingProducts", [])
    return {"rows": rows, "remove_existing_products": removal}


def shortcuts(source: Source) -> list[dict[str, Any]]:
    return [{"shortcut": rec.get("Shortcut"), "path": f"{source.directory_path(rec.get('Directory_'))}\\"
             f"{long_file_name(rec.get('Name')) if rec.get('Name') else ''}", "target": rec.get("Target"),
             "arguments": rec.get("Arguments"), "component": rec.get("Component_"), "@op": op}
            for rec, op in source.rows("Shortcut")]


def ini_files(source: Source) -> list[dict[str, Any]]:
    out = []
    for rec, op in source.rows("IniFile"):
        folder = source.directory_path(rec.get("DirProperty")) if rec.get("DirProperty") else "[WindowsFolder]"
        name = long_file_name(rec.get("FileName")) if rec.get("FileName") else ""
        out.append({"ini": rec.get("IniFile"), "file": f"{folder}\\{name}", "section": rec.get("Section"),
                    "key": rec.get("Key"), "value": rec.get("Value"),
                    "action": INI_ACTIONS.get(rec.get("Action"), rec.get("Action")), "@op": op})
    return out


def permissions(source: Source) -> list[dict[str, Any]]:
    out = [{"table": "LockPermissions", "object": rec.get("LockObject"), "object_table": rec.get("Table"),
            "domain": rec.get("Domain"), "user": rec.get("User"),
            "permission": f"0x{(rec.get('Permission') or 0) & 0xFFFFFFFF:08x}", "@op": op}
           for rec, op in source.rows("LockPermissions")]
    out += [{"table": "MsiLockPermissionsEx", "object": rec.get("LockObject"), "object_table": rec.get("Table"),
             "sddl": rec.get("SDDL"), "condition": rec.get("Condition"), "@op": op}
            for rec, op in source.rows("MsiLockPermissionsEx")]
    return out


def security_properties(source: Source) -> list[dict[str, Any]]:
    return [{"property": rec.get("Property"), "value": rec.get("Value"),
             "meaning": SECURITY_PROPERTIES[str(rec.get("Property"))], "@op": op}
            for rec, op in source.rows("Property") if rec.get("Property") in SECURITY_PROPERTIES]


def binaries(source: Source, used_by: dict[str, list[str]], dump: str | None) -> list[dict[str, Any]]:
    """Every Binary stream: PE image, script or data, its SHA-256, the custom actions using it, how to dump it."""
    out = []
    for rec, op in source.rows("Binary"):
        key = rec.get("Name")
        if not key:
            continue
        data = source.binary(str(key))
        entry: dict[str, Any] = {"name": key, "stream": f"Binary.{key}", "used_by": used_by.get(str(key), []),
                                 "@op": op}
        if data is None:
            entry["missing"] = True
        else:
            head = data[:64].lstrip(b"\xef\xbb\xbf").lower()
            kind = "PE image" if data[:2] == b"MZ" else "script" if head.startswith(SCRIPT_STARTS) else "data"
            entry.update(size=len(data), sha256=sha256(data), kind=kind)
        if dump:
            entry["dump"] = f"msitools stream {dump} Binary.{key} -o {key}.bin"
        out.append(entry)
    return out
