"""Squashed rows (cells glued together, as archived pages print them): every reading the grammar allows."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from msitools.errors import KbParseError
from msitools.kb.cells import (
    NOT_APPLICABLE,
    SIZE_GROUPED,
    SIZE_PLAIN,
    Candidate,
    CellError,
    TooMany,
    check_date,
    check_platform,
    check_time,
    show,
)
from msitools.limits import DEFAULT_LIMITS, Limits

_EXT_WITH_DIGITS = ("ps1xml", "ps1", "psd1", "psm1", "mp3", "mp4", "h264")


_NOT_APPLICABLE_AT = re.compile(r"not\s+applicable", re.I)


_SP_REQUIREMENT_AT = re.compile(r"None|Not\s+applicable|RTM|SP\d{1,2}", re.I)


_BRANCH_AT = re.compile(r"[A-Z][A-Z0-9]*(?:\\WOW)?")


_PLATFORM_AT = re.compile(r"not\s+applicable|amd64|arm64|ia-?64|x86|x64", re.I)


_DATE_AT = (re.compile(r"(\d{2})-([A-Za-z]{3})-(\d{4})"), re.compile(r"(\d)-([A-Za-z]{3})-(\d{4})"))


_TIME_AT = (re.compile(r"\d{1,2}:\d{2}:\d{2}"), re.compile(r"\d{1,2}:\d{2}"))


_VERSION_PART = re.compile(r"0|[1-9]\d{0,4}")
_VERSION_RUN = re.compile(r"[0-9.]*")
_SIZE_RUN = re.compile(r"[0-9,]*")


def _name_ends(s: str, pos: int) -> Iterator[int]:
    """End offsets of file names starting at *pos* (the name ends in ``.extension``)."""
    for m in re.finditer(r"\.([A-Za-z]+)", s[pos:]):
        if m.start() == 0:
            continue
        start = pos + m.start(1)
        yield from range(start + 1, pos + m.end(1) + 1)
        tail = s[start:start + 8].lower()
        for ext in _EXT_WITH_DIGITS:
            if tail.startswith(ext):
                yield start + len(ext)


def _match_name(s: str, pos: int) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for end in sorted(set(_name_ends(s, pos))):
        name = s[pos:end].strip()
        if name and "\t" not in name:
            out.append((end, name))
    return out


def _match_version(s: str, pos: int) -> list[tuple[int, object]]:
    m = _NOT_APPLICABLE_AT.match(s, pos)
    if m:
        return [(m.end(), NOT_APPLICABLE)]
    run = _VERSION_RUN.match(s, pos).group()  # type: ignore[union-attr]  # "*" always matches
    out: list[tuple[int, object]] = []
    for length in range(1, len(run) + 1):
        text = run[:length]
        if text.endswith("."):
            continue
        parts = text.split(".")
        if len(parts) > 4 or not all(_VERSION_PART.fullmatch(p) and int(p) <= 65535 for p in parts):
            continue
        out.append((pos + length, text))
    return out


def _match_size(s: str, pos: int) -> list[tuple[int, object]]:
    run = _SIZE_RUN.match(s, pos).group()  # type: ignore[union-attr]  # "*" always matches
    out: list[tuple[int, object]] = []
    for length in range(1, len(run) + 1):
        text = run[:length]
        if SIZE_GROUPED.fullmatch(text) or SIZE_PLAIN.fullmatch(text):
            out.append((pos + length, text))
    return out


def _match_checked(patterns, check, s: str, pos: int) -> list[tuple[int, object]]:
    """Every pattern that matches at *pos* and whose text *check* accepts: (end, checked value)."""
    out = []
    for rx in patterns:
        m = rx.match(s, pos)
        if m:
            try:
                out.append((m.end(), check(m.group())))
            except CellError:
                pass
    return out


def _match_date(s: str, pos: int) -> list[tuple[int, object]]:
    return _match_checked(_DATE_AT, check_date, s, pos)


def _match_time(s: str, pos: int) -> list[tuple[int, object]]:
    return _match_checked(_TIME_AT, check_time, s, pos)


def _match_platform(s: str, pos: int) -> list[tuple[int, object]]:
    m = _PLATFORM_AT.match(s, pos)
    return [(m.end(), check_platform(m.group()))] if m else []


def _match_regex(rx: re.Pattern) -> Callable[[str, int], list[tuple[int, object]]]:
    def match(s: str, pos: int) -> list[tuple[int, object]]:
        m = rx.match(s, pos)
        return [(m.end(), None)] if m else []
    return match


def _match_any(s: str, pos: int) -> list[tuple[int, object]]:
    return [(end, None) for end in range(pos + 1, len(s) + 1)]


_MATCHERS: dict[str, Callable[[str, int], list[tuple[int, object]]]] = {
    "name": _match_name,
    "version": _match_version,
    "size": _match_size,
    "date": _match_date,
    "time": _match_time,
    "platform": _match_platform,
    "ignore:sp requirement": _match_regex(_SP_REQUIREMENT_AT),
    "ignore:service branch": _match_regex(_BRANCH_AT),
}


def squashed_readings(line: str, fields: tuple[str | None, ...], source: str, line_no: int,
                      limits: Limits = DEFAULT_LIMITS) -> list[Candidate]:
    """Every reading of a glued row allowed by the grammar, in enumeration order."""
    s = line.strip()
    n = len(s)
    matchers = [_MATCHERS.get(f, _match_any) if f else _match_any for f in fields]
    memo: dict[tuple[int, int], list[tuple]] = {}
    most = limits.kb_readings_per_row
    budget = [most * 16]

    def go(k: int, pos: int) -> list[tuple]:
        if k == len(fields):
            return [()] if pos == n else []
        key = (k, pos)
        if key in memo:
            return memo[key]
        out: list[tuple] = []
        for end, value in matchers[k](s, pos):
            nxt = end
            while nxt < n and s[nxt].isspace():
                nxt += 1
            for rest in go(k + 1, nxt):
                out.append(((s[pos:end], value),) + rest)
                budget[0] -= 1
                if budget[0] < 0:
                    raise TooMany
        memo[key] = out
        return out

    try:
        found = go(0, 0)
    except TooMany:
        found = None
    if found is None or len(found) > most:
        raise KbParseError(f"line {line_no}: squashed row has more than {most} "
                           f"possible readings: {show(line)}", source)
    cands: list[Candidate] = []
    seen: set[Candidate] = set()
    for reading in found:
        values = {f: (text, value) for f, (text, value) in zip(fields, reading) if f}
        size = values.get("size")
        cand = Candidate(
            values["name"][1] if "name" in values else "",
            values["version"][1] if "version" in values else None,
            int(size[0].replace(",", "")) if size else None,
            size[0] if size else None,
            values["date"][1] if "date" in values else None,
            values["time"][1] if "time" in values else None,
            values["platform"][1] if "platform" in values else None,
            tuple((f, text) for f, (text, _value) in values.items() if not f.startswith("ignore:")),
        )
        if cand not in seen:
            seen.add(cand)
            cands.append(cand)
    if not cands:
        raise CellError("no reading of the glued cells fits the columns "
                         + " ".join(f.replace("ignore:", "") for f in fields if f))
    return cands
