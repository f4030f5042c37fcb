"""Fixed-width listings of older KB articles: a header of column labels over a dashed rule, then one file a line.

::

      Date         Time   Version         Size     File name      Platform
      --------------------------------------------------------------------
      01-Mar-2001  19:20  2.00.92.09      394,970  Apasetup.exe   i386
      01-Mar-2001  19:20                       67  Compversmsapm32.ini
      06/23/2000  08:28p   42,256  Regacl40.exe  Intel

Columns are not reliable (sizes are right-aligned, names run into the next column,
copies squeeze the spacing to single spaces), so a line is read as whitespace-separated
tokens against the header's fields in order: a date, a time (``08:28p``, ``11:02am``,
``xx:xx``), a version (optional: blank for unversioned files), a size (``87.5 KB`` reads
as no exact size), a file name, and a platform (the rest of the line, optional).  Every
way the tokens fit is a reading; a line that fits several ways is ambiguous, as for
squashed rows.  A line holding only text under the platform column continues the
previous line's platform (``Windows 98`` / ``Second Edition``).
"""
from __future__ import annotations

import re
from typing import Any

from msitools.kb.cells import (
    Candidate,
    CellError,
    check_version,
    is_not_applicable,
    read_date,
    read_platform,
    read_size,
    read_time,
)
from msitools.kb.columns import LABEL_FIELD, norm_label

_RULE = re.compile(r"\s*[-=]{10,}\s*")
_HEADER_LABELS = sorted(LABEL_FIELD, key=len, reverse=True)
_FILE_NAME = re.compile(r"[^\s/\\:*?\"<>|]*[A-Za-z_][^\s/\\:*?\"<>|]*")
_DATE_LIKE = re.compile(r"\d{1,4}[-./]\w{1,9}[-./]\d{2,4}")
_TIME_LIKE = re.compile(r"(?:\d{1,2}|xx):(?:\d{2}|xx)", re.I)


def is_rule(line: str) -> bool:
    return bool(_RULE.fullmatch(line))


def fixed_header(line: str) -> tuple[tuple[str, ...], tuple[str, ...], int] | None:
    """``(labels, fields, column of the last label)`` of a listing header, or None."""
    text = line.rstrip()
    low = text.lower()
    pos = len(text) - len(text.lstrip())
    labels, fields, starts = [], [], []
    while pos < len(text):
        for label in _HEADER_LABELS:
            if low.startswith(label, pos) and (pos + len(label) == len(text) or text[pos + len(label)].isspace()):
                labels.append(text[pos:pos + len(label)])
                fields.append(LABEL_FIELD[norm_label(label)])
                starts.append(pos)
                pos += len(label)
                break
        else:
            return None
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if "name" not in fields or not ({"version", "size"} & set(fields)) or len(set(fields)) != len(fields):
        return None
    return tuple(labels), tuple(fields), starts[-1]


def _one_date(token: str) -> str:
    try:
        return read_date(token).text
    except CellError:
        return read_date(token, "dmy").text


def _match(field: str, tokens: list[str], pos: int, last: bool) -> list[tuple[int, Any]]:
    """``(next position, (value, note, printed))`` for each way *field* can take tokens from *pos*."""
    out: list[tuple[int, Any]] = []
    rest = tokens[pos:]
    if field == "platform" and last:
        text = " ".join(rest)
        if not text:
            return [(pos, (None, None, ""))]
        try:
            value, note = read_platform(text)
            return [(len(tokens), (value, note, text))]
        except CellError:
            return []
    if field in ("version", "platform"):
        out.append((pos, (None, None, "")))  # not printed
    for take in (1, 2):
        if len(rest) < take:
            break
        text = " ".join(rest[:take])
        try:
            out.append((pos + take, _value(field, text) + (text,)))
        except CellError:
            continue
    return out


def _value(field: str, text: str) -> tuple[Any, str | None]:
    if field == "date":
        return _one_date(text), None
    if field == "time":
        return read_time(text)
    if field == "version":
        if " " in text and not is_not_applicable(text):
            raise CellError(f"invalid version {text!r}")
        return check_version(text), None
    if field == "size":
        return read_size(text)
    if field == "platform":
        return read_platform(text)
    if field == "name":
        if " " in text or not _FILE_NAME.fullmatch(text) or _DATE_LIKE.fullmatch(text) or _TIME_LIKE.fullmatch(text):
            raise CellError(f"not a file name: {text!r}")
        return text, None
    raise CellError(f"unknown field {field}")


def fixed_readings(line: str, fields: tuple[str, ...]) -> list[Candidate]:
    """Every reading of a listing line by the header's *fields* (raises CellError when there is none)."""
    tokens = line.split()
    readings: list[dict[str, Any]] = []

    def walk(k: int, pos: int, got: dict[str, Any]) -> None:
        if len(readings) > 64:
            return
        if k == len(fields):
            if pos == len(tokens):
                readings.append(dict(got))
            return
        for nxt, value in _match(fields[k], tokens, pos, k == len(fields) - 1):
            got[fields[k]] = value
            walk(k + 1, nxt, got)
            del got[fields[k]]

    walk(0, 0, {})
    if not readings:
        raise CellError("the line does not fit the listing's columns " + " ".join(fields))
    out: list[Candidate] = []
    for reading in readings:
        cand = _candidate(reading, fields)
        if cand not in out:
            out.append(cand)
    return out


def _candidate(reading: dict[str, Any], fields: tuple[str, ...]) -> Candidate:
    values: dict[str, Any] = dict.fromkeys(Candidate._fields)
    notes = []
    for field in fields:
        value, note, _printed = reading[field]
        values[field] = value
        if note:
            notes.append(note)
    if "size" in reading and reading["size"][2]:
        values["size_text"] = reading["size"][2]
    values["printed"] = tuple((f, reading[f][2]) for f in fields)
    values["notes"] = tuple(notes)
    return Candidate(**values)


def continues_platform(line: str, platform_column: int) -> bool:
    """True for a line holding only text that starts under the platform column (a wrapped platform)."""
    stripped = line.lstrip()
    indent = len(line.expandtabs(1)) - len(line.expandtabs(1).lstrip())
    return bool(stripped) and indent >= platform_column - 1 and not _DATE_LIKE.search(stripped)


def extend_platform(cand: Candidate, more: str) -> Candidate:
    """*cand* with *more* appended to its printed platform, read again."""
    printed = dict(cand.printed)
    text = f"{printed.get('platform', '')} {more.strip()}".strip()
    value, note = read_platform(text)
    printed["platform"] = text
    notes = tuple(n for n in cand.notes if "platform column" not in n) + ((note,) if note else ())
    return cand._replace(platform=value, printed=tuple(printed.items()), notes=notes)
