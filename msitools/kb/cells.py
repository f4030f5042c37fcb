"""The cell grammar of published tables: dates, times, versions, sizes, platforms, and text clean-up."""
from __future__ import annotations

import datetime
import html
import re
from typing import NamedTuple

NOT_APPLICABLE = "Not Applicable"


PLATFORMS = ("x86", "x64", "IA-64", "ARM64", NOT_APPLICABLE)


FIELDS = ("name", "version", "size", "date", "time", "platform")  # column order for flat output


class CellError(Exception):
    """A cell or row does not fit the grammar (internal; becomes KbParseError)."""


class Candidate(NamedTuple):
    """A reading plus the printed size, which the size-style evidence needs."""

    name: str
    version: str | None
    size: int | None
    size_text: str | None
    date: str | None
    time: str | None
    platform: str | None


_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


_PLATFORM_ALIASES = {
    "x86": "x86",
    "x64": "x64",
    "amd64": "x64",
    "ia-64": "IA-64",
    "ia64": "IA-64",
    "arm64": "ARM64",
    "not applicable": NOT_APPLICABLE,
}


_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-"})


_DATE_DMY = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")


_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


SIZE_GROUPED = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")


SIZE_PLAIN = re.compile(r"0|[1-9]\d*")


VERSION_CELL = re.compile(r"\d+(?:\.\d+){0,3}")


_NA = re.compile(r"not\s+applicable|n/a", re.I)


def iso_date(text: str | None) -> str | None:
    if not text:
        return None
    m = _DATE_DMY.fullmatch(text)
    if m:
        return datetime.date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1))).isoformat()
    return text  # already ISO (validated on input)


def check_date(text: str) -> str:
    text = text.translate(_DASHES).strip()
    m = _DATE_DMY.fullmatch(text)
    try:
        if m:
            month = _MONTHS.get(m.group(2).lower())
            if month is None:
                raise ValueError
            datetime.date(int(m.group(3)), month, int(m.group(1)))
            return text
        m = _DATE_ISO.fullmatch(text)
        if m:
            datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            return text
    except ValueError:
        raise CellError(f"invalid date {text!r}") from None
    raise CellError(f"invalid date {text!r} (expected dd-Mon-yyyy)")


def check_time(text: str) -> str:
    m = _TIME.fullmatch(text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or (m.group(3) and int(m.group(3)) > 59):
        raise CellError(f"invalid time {text!r} (expected HH:MM)")
    out = f"{int(m.group(1)):02d}:{m.group(2)}"
    return out + f":{m.group(3)}" if m.group(3) else out


def check_platform(text: str) -> str:
    canonical = _PLATFORM_ALIASES.get(re.sub(r"\s+", " ", text.strip()).lower())
    if canonical is None:
        if _NA.fullmatch(text.strip()):
            return NOT_APPLICABLE
        raise CellError(f"unknown platform {text!r} (expected one of {', '.join(PLATFORMS)})")
    return canonical


def check_version(text: str) -> str:
    text = text.strip()
    if _NA.fullmatch(text):
        return NOT_APPLICABLE
    if not VERSION_CELL.fullmatch(text) or any(int(p) > 65535 for p in text.split(".")):
        raise CellError(f"invalid file version {text!r}")
    return text


def check_size(text: str) -> int:
    text = text.strip()
    if SIZE_GROUPED.fullmatch(text) or SIZE_PLAIN.fullmatch(text):
        return int(text.replace(",", ""))
    raise CellError(f"invalid file size {text!r}")


class TooMany(Exception):
    pass


def strip_markdown(cell: str) -> str:
    cell = cell.strip()
    for mark in ("**", "__", "`", "*", "_"):
        if len(cell) > 2 * len(mark) and cell.startswith(mark) and cell.endswith(mark):
            cell = cell[len(mark):-len(mark)].strip()
    return unescape(cell)


def unescape(text: str) -> str:
    if "&" not in text:
        return text
    return clean(html.unescape(text))


def decode_document(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def normalise_document(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\ufeff", "").replace("\u200b", "").replace("\xa0", " ")


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u200b", "")).strip()


def show(text: str) -> str:
    text = clean(text)
    return repr(text if len(text) <= 100 else text[:97] + "...")
