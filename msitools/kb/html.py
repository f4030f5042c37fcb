"""Tables in HTML documents, and ``<table>`` blocks inside text documents.

A ``<br>`` inside a cell is kept as a line break, so that a file name split across lines
joins without a space and a cell holding a file name and its installed name (after a
label) can be told apart (:func:`msitools.kb.cells.name_parts`).
"""
from __future__ import annotations

from html.parser import HTMLParser

from msitools.errors import KbParseError
from msitools.kb.cells import CellError, clean, show, slash_order
from msitools.kb.columns import Header, delimited_row, header_fields
from msitools.kb.records import RawDocument, RawRow, Section, TableInfo
from msitools.kb.sections import heading_text, platform_named

BREAK = "<br/>"  # how a line break inside a cell reaches the cell readers


class _HtmlTable:
    def __init__(self, section: str):
        self.section = section
        self.caption: list[str] = []
        self.rows: list[tuple[int, list[tuple[str, int]]]] = []  # (line, [(text, colspan)])
        self.row: list[tuple[str, int]] | None = None
        self.row_line = 0
        self.cell: list[str] | None = None
        self.cell_span = 1
        self.in_caption = False

    def close_cell(self) -> None:
        if self.cell is not None:
            if self.row is None:
                self.row = []
            text = "".join(self.cell)
            parts = [clean(p) for p in text.split(BREAK)]
            self.row.append((BREAK.join(p for p in parts if p), self.cell_span))
            self.cell = None

    def close_row(self) -> None:
        self.close_cell()
        if self.row is not None:
            self.rows.append((self.row_line, self.row))
            self.row = None


_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "section",
               "article", "header", "footer", "blockquote", "pre", "title", "body", "head", "html", "hr",
               "main", "nav", "aside", "figure", "figcaption", "summary", "details"}


class _HtmlExtractor(HTMLParser):
    """Collects tables (rows of cell texts with their line numbers) and the text before each."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.buf: list[str] = []
        self.tables: list[_HtmlTable] = []
        self.stack: list[_HtmlTable] = []
        self.last_end = 0
        self.skip = 0

    def flush(self) -> None:
        text = clean("".join(self.buf))
        self.buf = []
        if text:
            self.blocks.append(text)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "template"):
            self.skip += 1
            return
        top = self.stack[-1] if self.stack else None
        if tag == "table":
            self.flush()
            section = ""
            for text in reversed(self.blocks[self.last_end:]):
                title = _title(text)
                if title is not None:
                    section = title
                    break
            table = _HtmlTable(section)
            self.tables.append(table)
            self.stack.append(table)
        elif top is not None and tag == "caption":
            top.in_caption = True
        elif top is not None and tag == "tr":
            self.flush()
            top.close_row()
            top.row = []
            top.row_line = self.getpos()[0]
        elif top is not None and tag in ("td", "th"):
            self.flush()
            top.close_cell()
            if top.row is None:
                top.row = []
                top.row_line = self.getpos()[0]
            span = 1
            for key, value in attrs:
                if key == "colspan" and value and value.strip().isdigit():
                    span = max(1, min(int(value.strip()), 1000))
            top.cell = []
            top.cell_span = span
        elif tag == "br":
            self.flush()
            if top is not None and top.cell is not None:
                top.cell.append(BREAK)
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "template"):
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self.skip = max(0, self.skip - 1)
            return
        top = self.stack[-1] if self.stack else None
        if tag == "table" and top is not None:
            self.flush()
            top.close_row()
            self.stack.pop()
            self.last_end = len(self.blocks)
        elif top is not None and tag == "caption":
            top.in_caption = False
        elif top is not None and tag in ("td", "th"):
            self.flush()
            top.close_cell()
        elif top is not None and tag == "tr":
            self.flush()
            top.close_row()
        elif tag in _BLOCK_TAGS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        top = self.stack[-1] if self.stack else None
        if top is not None and top.in_caption:
            top.caption.append(data)
            return
        self.buf.append(data)
        if top is not None and top.cell is not None:
            top.cell.append(data)

    def finish(self) -> None:
        self.close()
        self.flush()
        while self.stack:
            self.stack.pop().close_row()


def _title(text: str) -> str | None:
    return heading_text(text)


def parse_html(text: str, source: str, line_offset: int = 0, section: Section | None = None) -> RawDocument:
    """Every file-information table of an HTML document (or block, *line_offset* lines into a document).

    *section*: the section the surrounding text gives the block's first table.
    """
    parser = _HtmlExtractor()
    try:
        parser.feed(text)
        parser.finish()
    except (AssertionError, ValueError) as exc:  # html.parser's own complaints
        raise KbParseError(f"unreadable HTML: {exc}", source) from None
    raw = RawDocument()
    for table in parser.tables:
        caption = clean("".join(table.caption))
        if caption or table.section or section is None:
            title = caption or table.section
            current = Section(title, section.context if section else "", platform_named(title))
        else:
            current = section
        _read_table(raw, table, current, source, line_offset)
    for info in raw.tables:
        if info.rows == 0:
            raise KbParseError(f"line {info.line}: table header has no rows: {show(' | '.join(info.labels))}",
                               source)
    return raw


def _read_table(raw: RawDocument, table: _HtmlTable, section: Section, source: str, offset: int) -> None:
    header: Header | None = None
    header_section = section
    rows: list[RawRow] = []
    for line0, cells in table.rows:
        line = line0 + offset
        texts = [t for t, span in cells for t in [t] + [""] * (span - 1)]
        nonempty = [t for t in texts if t]
        fields = header_fields([t.replace(BREAK, " ") for t in texts], source, line) if texts else None
        if fields:
            if header is not None:
                _close_html_table(raw, header, header_section, rows, source)
            header = Header("html", tuple(texts), fields, line)
            header_section = section
            rows = []
            continue
        if not nonempty:
            continue
        if len(nonempty) == 1 and (header is None or len(cells) < len(header.fields)):
            title = _title(nonempty[0].replace(BREAK, " "))
            if title is not None:
                section = Section(title, section.context, platform_named(title) or section.platform)
            continue
        if header is None:
            continue  # a table without a file-information header (layout, prose)
        try:
            cand = delimited_row(texts, header)
        except CellError as exc:
            raise KbParseError(f"line {line}: {exc}: {show(' | '.join(texts))}", source) from None
        rows.append(RawRow(line, section, [cand]))
    if header is not None:
        _close_html_table(raw, header, header_section, rows, source)


def _close_html_table(raw: RawDocument, header: Header, section: Section, rows: list[RawRow], source: str) -> None:
    try:
        order = slash_order([c.date or "" for r in rows for c in r.cands])
    except CellError as exc:
        raise KbParseError(f"line {header.line}: {exc}", source) from None
    for row in rows:
        raw.slash_order[id(row.section)] = order
    raw.rows.extend(rows)
    raw.tables.append(TableInfo(header.line, "html", section.title, header.labels, header.fields, len(rows), section))
