"""Summary information, decoded per package kind (FORMATS §2.2).

The same property ids mean different things in an MSI, an MSP and an MST:
Template is ``platform;languages`` in an MSI, the target product codes in an
MSP and the base ``platform;language`` in an MST; Revision is the package code,
the patch code + obsoleted codes, or the product codes/versions and upgrade code
of a transform; Character count of a transform packs validation flags (high
word) and suppressed error conditions (low word).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from msitools.db.propset import PropertySet, parse_property_set
from msitools.errors import SummaryInfoError
from msitools.limits import DEFAULT_LIMITS, Limits

PID_NAMES = {
    1: "codepage",
    2: "title",
    3: "subject",
    4: "author",
    5: "keywords",
    6: "comments",
    7: "template",
    8: "last_saved_by",
    9: "revision_number",
    10: "edit_time",
    11: "last_printed",
    12: "created",
    13: "last_saved",
    14: "page_count",
    15: "word_count",
    16: "character_count",
    17: "thumbnail",
    18: "creating_application",
    19: "security",
}

# Transform validation flags (high word of PID 16) and error conditions (low word)
VALIDATION_FLAGS = [
    (0x0001, "language"),
    (0x0002, "product"),
    (0x0004, "platform"),
    (0x0008, "major_version"),
    (0x0010, "minor_version"),
    (0x0020, "update_version"),
    (0x0040, "new_less_base_version"),
    (0x0080, "new_less_equal_base_version"),
    (0x0100, "new_equal_base_version"),
    (0x0200, "new_greater_equal_base_version"),
    (0x0400, "new_greater_base_version"),
    (0x0800, "upgrade_code"),
]
ERROR_CONDITIONS = [
    (0x0001, "add_existing_row"),
    (0x0002, "del_missing_row"),
    (0x0004, "add_existing_table"),
    (0x0008, "del_missing_table"),
    (0x0010, "update_missing_row"),
    (0x0020, "change_codepage"),
]
MSI_SOURCE_FLAGS = [
    (0x1, "short_names"),
    (0x2, "compressed"),
    (0x4, "admin_image"),
    (0x8, "no_elevation"),
]
MSP_INSTALLER_REQUIREMENT = {
    1: "default (MSPATCH)",
    2: "Windows Installer 1.2",
    3: "Windows Installer 2.0",
    4: "Windows Installer 3.0",
    5: "Windows Installer 3.1",
}

# value types the decoding relies on (MSI summary property set; None = VT_EMPTY is allowed)
STRING_PIDS = (2, 3, 4, 5, 6, 7, 8, 9, 18)
INTEGER_PIDS = (14, 15, 16, 19)

GUID_RE = re.compile(r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}")


def flag_names(value: int, table) -> list[str]:
    names = [name for bit, name in table if value & bit]
    known = 0
    for bit, _ in table:
        known |= bit
    if value & ~known:
        names.append(f"unknown_{value & ~known:#x}")
    return names


def split_platform_languages(template: str | None) -> tuple[str | None, list[int]]:
    if template is None:
        return None, []
    platform, _, langs = template.partition(";")
    languages = []
    for part in langs.split(","):
        part = part.strip()
        if part.isascii() and part.isdigit():  # str.isdigit() alone accepts '³' (found by fuzzing)
            languages.append(int(part))
    return platform or None, languages


def unreadable_languages(template: str | None) -> list[str]:
    """Entries of Template's language list that are not language ids (reported as issues)."""
    if not template:
        return []
    _, _, langs = template.partition(";")
    return [p.strip() for p in langs.split(",") if p.strip() and not (p.strip().isascii() and p.strip().isdigit())]


def parse_transform_revision(text: str | None) -> dict:
    """``{OrigPC}OrigVer;{NewPC}NewVer;{UpgradeCode}`` -> dict of the five parts."""
    out: dict[str, Any] = {
        "target_product_code": None,
        "target_product_version": None,
        "upgrade_product_code": None,
        "upgrade_product_version": None,
        "upgrade_code": None,
    }
    if not text:
        return out
    parts = text.split(";")

    def code_and_version(part: str) -> tuple[str | None, str | None]:
        m = GUID_RE.match(part.strip())
        if not m:
            return None, part.strip() or None
        return m.group(0).upper(), part.strip()[m.end():] or None

    if len(parts) > 0:
        out["target_product_code"], out["target_product_version"] = code_and_version(parts[0])
    if len(parts) > 1:
        out["upgrade_product_code"], out["upgrade_product_version"] = code_and_version(parts[1])
    if len(parts) > 2:
        m = GUID_RE.match(parts[2].strip())
        out["upgrade_code"] = m.group(0).upper() if m else (parts[2].strip() or None)
    return out


class SummaryInformation:
    """The summary property set of a package, with per-kind decoding in :meth:`to_dict`."""

    def __init__(self, props: PropertySet, kind: str):
        self.props = props
        self.kind = kind

    @classmethod
    def parse(cls, data: bytes, kind: str, path=None, limits: Limits = DEFAULT_LIMITS,
              what: str = "summary information") -> SummaryInformation:
        props = parse_property_set(data, path, limits, what)
        for pid, expected in [(p, str) for p in STRING_PIDS] + [(p, int) for p in INTEGER_PIDS]:
            value = props.values.get(pid)
            if value is not None and not isinstance(value, expected):
                raise SummaryInfoError(f"{what}: property {pid} ({PID_NAMES[pid]}) has type {props.types[pid]}, "
                                       f"expected {'a string' if expected is str else 'an integer'}", path)
        return cls(props, kind)

    @classmethod
    def empty(cls, kind: str) -> SummaryInformation:
        return cls(PropertySet(fmtid=b""), kind)

    def get(self, pid: int):
        return self.props.values.get(pid)

    @property
    def codepage(self) -> int:
        return self.props.codepage

    @property
    def issues(self) -> list:
        return self.props.issues

    # -- per-kind views ---------------------------------------------------
    @property
    def transform_names(self) -> list[str]:
        """MSP: the transform substorages listed in Last Saved By, in order, without ':'."""
        text = self.get(8) or ""
        names = []
        for part in text.split(";"):
            part = part.strip()
            if part:
                names.append(part[1:] if part.startswith(":") else part)
        return names

    @property
    def patch_codes(self) -> list[str]:
        """MSP: the patch code followed by obsoleted patch codes (PID 9)."""
        return [g.upper() for g in GUID_RE.findall(self.get(9) or "")]

    @property
    def target_product_codes(self) -> list[str]:
        return [g.upper() for g in GUID_RE.findall(self.get(7) or "")]

    @property
    def validation_flags(self) -> int:
        return ((self.get(16) or 0) >> 16) & 0xFFFF

    @property
    def error_condition_flags(self) -> int:
        return (self.get(16) or 0) & 0xFFFF

    def raw_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for pid in sorted(self.props.values):
            key = PID_NAMES.get(pid, f"property_{pid}")
            out[key] = _jsonable(self.props.values[pid])
        return out

    def to_dict(self) -> dict[str, Any]:
        """Summary with snake_case keys plus the kind-specific decoded fields."""
        out = self.raw_dict()
        kind = self.kind
        if kind in ("msi", "msm"):
            platform, languages = split_platform_languages(self.get(7))
            out["platform"] = platform
            out["languages"] = languages
            out["package_code"] = (self.get(9) or None)
            out["schema"] = self.get(14)
            wc = self.get(15)
            out["source_flags"] = flag_names(wc, MSI_SOURCE_FLAGS) if isinstance(wc, int) else []
        elif kind == "msp":
            codes = self.patch_codes
            out["patch_code"] = codes[0] if codes else None
            out["obsoleted_patch_codes"] = codes[1:]
            out["target_product_codes"] = self.target_product_codes
            out["transforms"] = self.transform_names
            wc = self.get(15)
            out["installer_requirement"] = MSP_INSTALLER_REQUIREMENT.get(wc) if isinstance(wc, int) else None
        elif kind == "mst":
            out.update(parse_transform_revision(self.get(9)))
            base_platform, base_langs = split_platform_languages(self.get(7))
            new_platform, new_langs = split_platform_languages(self.get(8))
            out["platform"] = base_platform
            out["languages"] = base_langs
            out["new_platform"] = new_platform
            out["new_languages"] = new_langs
            out["validation"] = flag_names(self.validation_flags, VALIDATION_FLAGS)
            out["error_conditions"] = flag_names(self.error_condition_flags, ERROR_CONDITIONS)
        issues = list(self.issues)
        if kind in ("msi", "msm", "mst"):
            issues += [f"Template language {bad!r} is not a language id" for bad in unreadable_languages(self.get(7))]
        if issues:
            out["issues"] = issues
        return out


def _jsonable(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value
