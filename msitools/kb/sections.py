"""Which section a table belongs to: the headings and captions above it, and the platform they name.

Articles list x86, x64 and IA-64 files (or the files of each component) in separate
tables under headings such as "For all supported x64-based versions of Windows 7",
"x64-based versions" followed by "SQL Server 2017 Analysis Services", or a caption
"Für alle unterstützten 32-Bit-Editionen von Windows Server 2003:".  The nearest heading
(or caption paragraph) above a table is its title; the other headings since the
previous table are its context (kept from the previous table when there are none).
"""
from __future__ import annotations

import re

from msitools.kb.cells import markdown_text
from msitools.kb.records import Section

SECTION_MAX_LENGTH = 200  # longer paragraphs are prose, not section titles

_PLATFORM_WORDS = [
    ("x86", re.compile(r"\bx86\b|\b32[- ]?bits?\b|\(x86\)|\bi386\b", re.I)),
    ("x64", re.compile(r"\bx64\b|\bamd64\b|\(x64\)|\bx86[- ]64\b", re.I)),
    ("IA-64", re.compile(r"\bia-?64\b|\bitanium\b", re.I)),
    ("ARM64", re.compile(r"\barm64\b", re.I)),
]
_RULE = re.compile(r"\s*(?:[-=_*~]\s*){3,}")  # an underline or a horizontal rule
_FENCE = re.compile(r"\s*(?:```|~~~)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def platform_named(text: str) -> str | None:
    """The one processor platform *text* names (None when it names none, or several)."""
    found = {platform for platform, rx in _PLATFORM_WORDS if rx.search(text)}
    return found.pop() if len(found) == 1 else None


def heading_text(line: str) -> str | None:
    """A line as a heading or caption text; None for blank lines, rules and code fences.

    A paragraph is a title or context only when it is short (at most SECTION_MAX_LENGTH
    characters) and not a sentence (ending with a full stop): prose between headings
    and a table cuts the headings before it off.
    """
    if not line.strip() or _RULE.fullmatch(line) or _FENCE.match(line):
        return None
    text = re.sub(r"^\s*#{1,6}\s*", "", line)
    text = _LIST_MARK.sub("", text)
    text = re.sub(r"^\|+|\|+$", "", text.strip()).strip()
    text = markdown_text(text)
    for mark in ("**", "__", "*", "_"):
        if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
            text = text[len(mark):-len(mark)].strip()
    text = re.sub(r"</?[a-zA-Z][^>]*>", "", text).strip()
    return text or None


class SectionTracker:
    """Follows the headings and paragraphs of a document and names the section of each table."""

    def __init__(self) -> None:
        self._paragraphs: list[str] = []  # headings and caption paragraphs since the previous table
        self._open: list[str] = []  # lines of the paragraph being read
        self._context = ""

    def line(self, text: str) -> None:
        """Feed a line that is not part of a table (blank lines end a paragraph)."""
        heading = heading_text(text)
        if heading is None:
            self._close()
            return
        if re.match(r"^\s*(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|\*\*)", text):
            self._close()  # a heading or a list item is a paragraph of its own
            self._open.append(heading)
            self._close()
            return
        if self._open and not (heading[:1].islower() and not self._open[-1].endswith((".", ":", ";", "!", "?"))):
            self._close()  # a new line of text is a new paragraph unless it continues a wrapped sentence
        self._open.append(heading)

    def _close(self) -> None:
        if self._open:
            paragraph = " ".join(self._open)
            self._open = []
            if len(paragraph) <= SECTION_MAX_LENGTH and not paragraph.endswith((".", "!", "?")):
                self._paragraphs.append(paragraph.rstrip(":").strip())
            else:
                self._paragraphs = []  # prose: the headings before it belong to other parts of the article

    def peek(self) -> Section:
        """The section a table starting here would have (nothing is consumed)."""
        self._close()
        saved = (list(self._paragraphs), self._context)
        section = self.table()
        self._paragraphs, self._context = saved
        return section

    def table(self) -> Section:
        """The section of a table that starts here (and the start of a new run of headings)."""
        self._close()
        paragraphs = [p for p in self._paragraphs if p]
        self._paragraphs = []
        if not paragraphs:
            title, context = "", self._context
        else:
            title = paragraphs[-1]
            context = " > ".join(paragraphs[:-1]) if len(paragraphs) > 1 else self._context
        self._context = context
        platform = platform_named(title) or self._context_platform(context)
        return Section(title, context, platform)

    def continue_table(self, previous: Section) -> Section:
        """The section of rows that follow a caption line inside a table (a new title, same context)."""
        self._close()
        paragraphs = [p for p in self._paragraphs if p]
        self._paragraphs = []
        if not paragraphs:
            return previous
        title = paragraphs[-1]
        return Section(title, previous.context, platform_named(title) or self._context_platform(previous.context))

    @staticmethod
    def _context_platform(context: str) -> str | None:
        for part in reversed(context.split(" > ")) if context else []:
            platform = platform_named(part)
            if platform is not None:
                return platform
        return None
