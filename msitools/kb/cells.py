"""The cell grammar of published tables: dates, times, versions, sizes, platforms, and text clean-up.

Every reader takes the cell as printed and returns the value it certainly means, or
raises :class:`CellError`.  What is printed but carries no exact value (a time
``xx:xx``, a size ``87.5 KB``, an operating system in the platform column) reads as
``None`` with a note: never as a guess.  Accepted forms (README, "Published tables"):

* dates ``14-Sep-2019``, ``1-Feb-2010``, ``12-Jul-16``, ``20-June-2015``, month names and
  abbreviations in English, German, Dutch and French (``Mär``, ``okt``, ``mei``, ``déc``),
  ``2019-09-14``, ``14.09.2019``, ``11/19/2001`` and ``03/23/00`` (month/day/year, as
  Microsoft's US articles print them; day/month/year when the table says so), and
  ``14-9`` (day-month, no year: ``date_iso`` is None, ``month_day`` keeps ``09-14``);
  two-digit years 00-69 are 20xx, 70-99 are 19xx;
* times ``16:35``, ``1:00``, ``16:35:12``, ``08:28p``, ``11:02am``, ``12:22 PM``;
* sizes ``1172328``, ``1,172,328``, ``1.172.328``, ``1 172 328`` (also no-break and narrow
  no-break spaces, or ``'``), a group separator missing (``3.011112``: noted);
* versions of one to four dot-separated numbers, ``Not applicable`` and its translations;
* platforms ``x86`` (``Intel``, ``i386``, ``(x86)``), ``x64`` (``amd64``), ``IA-64``
  (``ia64``, ``Itanium``), ``ARM64``, ``Alpha``, ``Not Applicable``.
"""
from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass
from typing import NamedTuple

NOT_APPLICABLE = "Not Applicable"
PLATFORMS = ("x86", "x64", "IA-64", "ARM64", "Alpha", NOT_APPLICABLE)
FIELDS = ("name", "version", "size", "date", "time", "platform")  # column order for flat output


class CellError(Exception):
    """A cell or row does not fit the grammar (internal; becomes KbParseError)."""


class TooMany(Exception):
    """A search went over its budget (internal)."""


class Candidate(NamedTuple):
    """One reading of a row: the values, the printed size (for the size-style evidence), and what was printed."""

    name: str
    version: str | None
    size: int | None
    size_text: str | None
    date: str | None
    time: str | None
    platform: str | None
    printed: tuple[tuple[str, str], ...] = ()  # (field, cell text as printed)
    notes: tuple[str, ...] = ()
    installed_name: str | None = None


# -- dates ---------------------------------------------------------------------------------
_MONTH_NAMES = {
    1: ("jan", "january", "januar", "januari", "janv", "janvier", "jän", "jänner"),
    2: ("feb", "february", "februar", "februari", "févr", "fevr", "février"),
    3: ("mar", "march", "mär", "märz", "maerz", "mrz", "mrt", "maart", "mars"),
    4: ("apr", "april", "avr", "avril"),
    5: ("may", "mai", "mei"),
    6: ("jun", "june", "juni", "juin"),
    7: ("jul", "july", "juli", "juil", "juillet"),
    8: ("aug", "august", "augustus", "aoû", "août", "aout"),
    9: ("sep", "sept", "september", "septembre"),
    10: ("oct", "october", "okt", "oktober", "octobre"),
    11: ("nov", "november", "novembre"),
    12: ("dec", "december", "dez", "dezember", "déc", "décembre"),
}
MONTHS = {name: number for number, names in _MONTH_NAMES.items() for name in names}
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-"})
_DATE_DMY = re.compile(r"(\d{1,2})[-. ]([A-Za-zÀ-ÿ]{3,9})\.?[-. ](\d{4}|\d{2})")
_DATE_DM = re.compile(r"(\d{1,2})-(\d{1,2})")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_DOTS = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})")
_DATE_SLASH = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})")


@dataclass(frozen=True)
class DateValue:
    """A printed date: its text, its ISO date when the year is printed, else its month and day."""

    text: str
    iso: str | None
    month_day: str | None = None


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _iso(year: int, month: int, day: int, text: str) -> str:
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        raise CellError(f"invalid date {text!r}") from None


def read_date(text: str, slash_order: str = "mdy") -> DateValue:
    """The date a cell prints (*slash_order*: how ``a/b/c`` reads, ``mdy`` or ``dmy``)."""
    text = text.translate(_DASHES).strip()
    if m := _DATE_DMY.fullmatch(text):
        month = MONTHS.get(m.group(2).lower())
        if month is None:
            raise CellError(f"invalid date {text!r} (unknown month {m.group(2)!r})")
        return DateValue(text, _iso(_year(m.group(3)), month, int(m.group(1)), text))
    if m := _DATE_ISO.fullmatch(text):
        return DateValue(text, _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)), text))
    if m := _DATE_DOTS.fullmatch(text):
        return DateValue(text, _iso(_year(m.group(3)), int(m.group(2)), int(m.group(1)), text))
    if m := _DATE_SLASH.fullmatch(text):
        a, b = int(m.group(1)), int(m.group(2))
        month, day = (b, a) if slash_order == "dmy" else (a, b)
        return DateValue(text, _iso(_year(m.group(3)), month, day, text))
    if m := _DATE_DM.fullmatch(text):
        day, month = int(m.group(1)), int(m.group(2))
        _iso(2000, month, day, text)  # a leap year: 29-2 is a date
        return DateValue(text, None, f"{month:02d}-{day:02d}")
    raise CellError(f"invalid date {text!r} (expected a date such as 14-Sep-2019, 2019-09-14 or 11/19/2001)")


def slash_order(texts: list[str]) -> str:
    """How the slash dates of one table read: ``dmy`` when one of them can only be day/month, else ``mdy``.

    Raises :class:`CellError` when the table holds both an unmistakable month/day and an
    unmistakable day/month date.
    """
    mdy = dmy = False
    for text in texts:
        m = _DATE_SLASH.fullmatch(text.strip())
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            dmy |= a > 12 >= b
            mdy |= b > 12 >= a
    if mdy and dmy:
        raise CellError("slash dates read both month/day/year and day/month/year in one table")
    return "dmy" if dmy else "mdy"


def check_date(text: str) -> str:
    """The printed date, validated (squashed rows keep the printed text)."""
    return read_date(text).text


def iso_date(text: str | None) -> str | None:
    """``YYYY-MM-DD`` of a printed date (None when it has no year or no date)."""
    if not text:
        return None
    try:
        return read_date(text).iso
    except CellError:
        return None


# -- times ---------------------------------------------------------------------------------
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]\.?(?:m\.?)?)?", re.I)
_TIME_PLACEHOLDER = re.compile(r"[xX?]{1,2}:[xX?]{2}")


def read_time(text: str) -> tuple[str | None, str | None]:
    """``(HH:MM[:SS] on 24 hours, note)``; a placeholder such as ``xx:xx`` is ``(None, note)``."""
    text = text.strip()
    if _TIME_PLACEHOLDER.fullmatch(text):
        return None, f"time printed as the placeholder {text}"
    m = _TIME.fullmatch(text)
    if not m:
        raise CellError(f"invalid time {text!r} (expected HH:MM)")
    hour, minute, second, half = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
    if half:
        if not 1 <= hour <= 12:
            raise CellError(f"invalid time {text!r}")
        hour = hour % 12 + (12 if half[0].lower() == "p" else 0)
    if hour > 23 or minute > 59 or (second and int(second) > 59):
        raise CellError(f"invalid time {text!r} (expected HH:MM)")
    return f"{hour:02d}:{minute:02d}" + (f":{second}" if second else ""), None


def check_time(text: str) -> str:
    value, _note = read_time(text)
    if value is None:
        raise CellError(f"invalid time {text!r}")
    return value


# -- sizes ---------------------------------------------------------------------------------
SIZE_GROUPED = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")
SIZE_PLAIN = re.compile(r"0|[1-9]\d*")
_SIZE_SEPARATED = re.compile(r"[1-9]\d{0,2}(?:[,.' \u00a0\u202f\u2009]\d{3,})+")
_SIZE_WITH_UNIT = re.compile(r"\d+(?:[.,]\d+)?\s*(?:bytes?|KB|kB|MB|GB|Bytes|octets|Byte)", re.I)


def read_size(text: str) -> tuple[int | None, str | None]:
    """``(bytes, note)``; a size printed with a unit (``87.5 KB``) is ``(None, note)``: not exact."""
    text = text.strip()
    if SIZE_PLAIN.fullmatch(text):
        return int(text), None
    if _SIZE_SEPARATED.fullmatch(text):
        groups = re.split(r"[,.' \u00a0\u202f\u2009]", text)
        separators = set(re.findall(r"[,.' \u00a0\u202f\u2009]", text))
        if len(separators) == 1 and all(len(g) % 3 == 0 for g in groups[1:]):
            note = None
            if any(len(g) != 3 for g in groups[1:]):
                note = f"size printed as {text}: a group separator is missing; read as {''.join(groups)}"
            return int("".join(groups)), note
    if _SIZE_WITH_UNIT.fullmatch(text):
        return None, f"size printed as {text!r}, not an exact byte count"
    raise CellError(f"invalid file size {text!r}")


def check_size(text: str) -> int:
    text = text.strip()
    if SIZE_GROUPED.fullmatch(text) or SIZE_PLAIN.fullmatch(text):
        return int(text.replace(",", ""))
    raise CellError(f"invalid file size {text!r}")


# -- versions ------------------------------------------------------------------------------
VERSION_CELL = re.compile(r"\d+(?:\.\d+){0,3}")
_NA = re.compile(r"not\s+applicable|n/?a|nicht\s+verfügbar|nicht\s+zutreffend|niet\s+van\s+toepassing|"
                 r"non\s+applicable|sans\s+objet|no\s+aplicable|-|—", re.I)


def is_not_applicable(text: str) -> bool:
    return bool(_NA.fullmatch(text.strip()))


def check_version(text: str) -> str:
    text = text.strip()
    if _NA.fullmatch(text):
        return NOT_APPLICABLE
    if not VERSION_CELL.fullmatch(text) or any(int(p) > 65535 for p in text.split(".")):
        raise CellError(f"invalid file version {text!r}")
    return text


# -- platforms -----------------------------------------------------------------------------
_PLATFORM_ALIASES = {
    "x86": "x86", "(x86)": "x86", "intel": "x86", "i386": "x86", "x86 (wow)": "x86", "wow64": "x86",
    "x64": "x64", "(x64)": "x64", "amd64": "x64", "x64 (wow)": "x64",
    "ia-64": "IA-64", "ia64": "IA-64", "(ia64)": "IA-64", "itanium": "IA-64",
    "arm64": "ARM64", "alpha": "Alpha",
}
_OS_NAMES = re.compile(r"(windows|win\s?nt|nt\s?\d|server|98|95|me\b|2000|xp|vista|second edition)", re.I)


def read_platform(text: str) -> tuple[str | None, str | None]:
    """``(canonical platform, note)``; an operating system printed in the column is ``(None, note)``."""
    key = re.sub(r"\s+", " ", text.strip()).lower()
    canonical = _PLATFORM_ALIASES.get(key)
    if canonical is not None:
        return canonical, None
    if _NA.fullmatch(key):
        return NOT_APPLICABLE, None
    if _OS_NAMES.search(key):
        return None, f"the platform column names an operating system ({text.strip()}), not a processor"
    raise CellError(f"unknown platform {text!r} (expected one of {', '.join(PLATFORMS)})")


def check_platform(text: str) -> str:
    value, _note = read_platform(text)
    if value is None:
        raise CellError(f"unknown platform {text!r}")
    return value


# -- text ----------------------------------------------------------------------------------
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_BR = re.compile(r"<br\s*/?>", re.I)
_TAG = re.compile(r"</?(?:strong|b|em|i|code|span|p)\b[^>]*>", re.I)


def unescape(text: str) -> str:
    """HTML entities decoded (and whitespace normalised when there were any)."""
    if "&" not in text:
        return text
    return clean(html.unescape(text))


def markdown_text(text: str) -> str:
    """A Markdown cell or heading as text: backslash escapes, emphasis and code-span marks removed."""
    text = _MD_ESCAPE.sub(r"\1", text.strip())
    return unescape(text)


def strip_markdown(cell: str) -> str:
    cell = cell.strip()
    for mark in ("**", "__", "`", "*", "_"):
        if len(cell) > 2 * len(mark) and cell.startswith(mark) and cell.endswith(mark):
            cell = cell[len(mark):-len(mark)].strip()
    return unescape(cell)


# what makes a cell more than its stripped text: a tag, an escape, an entity, a code span, a zero-width
# space, whitespace other than single spaces; emphasis marks count only at its ends
_NOT_PLAIN = re.compile(r"[<\\&`\u200b\x00]|\s\s|[^\S ]")


def cell_text(cell: str) -> str:
    """A Markdown or HTML table cell as text: escapes, emphasis, code spans and inline tags removed."""
    text = cell.strip()
    if not _NOT_PLAIN.search(text) and not text.startswith(("*", "_")):
        return text  # the common case, 20,000-row tables have 120,000 of these: nothing to remove
    return _marked_cell_text(text)


def _marked_cell_text(cell: str) -> str:
    cell = _TAG.sub("", cell)
    cell = _MD_ESCAPE.sub(lambda m: "\x00" + m.group(1), cell)  # protect escaped marks from the stripping
    cell = strip_markdown(cell).replace("\x00", "")
    return clean(cell)


_INSTALLED_LABEL = re.compile(r"^(?:installed\s+name|geïnstalleerde\s+naam|installierter\s+name|"
                              r"nom\s+installé)\s*:?\s*", re.I)


def name_parts(cell: str) -> tuple[str, str | None]:
    """A name cell split at ``<br>``: ``(file name, installed name)``.

    The parts of a name split across lines (``long_<br/>name.manifest``) are joined
    without a space (file names in these tables hold no spaces); a part labelled
    "Installed name:" (in any language the corpus prints) is the installed name.
    """
    parts = [cell_text(p) for p in _BR.split(cell)]
    installed = None
    kept = []
    for part in parts:
        stripped = _INSTALLED_LABEL.sub("", part)
        if stripped != part:
            installed = stripped
        elif part:
            kept.append(part)
    return "".join(kept), installed


def has_break(cell: str) -> bool:
    return bool(_BR.search(cell))


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


_WHITESPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    return _WHITESPACE.sub(" ", text.replace("\xa0", " ").replace("\u200b", "")).strip()


def show(text: str) -> str:
    text = clean(text)
    return repr(text if len(text) <= 100 else text[:97] + "...")
